import type { Migration } from 'kysely';
import type { AnyDb } from './any-db.js';

/** Proven addresses, one-time link tokens (hashes only), and the durable outbox of mail and jobs. */
export const mail: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('users').addColumn('email_verified_at', 'bigint').execute();

    await db.schema
      .createTable('link_tokens')
      .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('purpose', 'varchar(32)', (c) => c.notNull())
      .addColumn('email', 'varchar(320)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema.createIndex('link_tokens_user_purpose').on('link_tokens').columns(['user_id', 'purpose']).execute();
    await db.schema.createIndex('link_tokens_expires_at').on('link_tokens').column('expires_at').execute();

    await db.schema
      .createTable('outbox')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('topic', 'varchar(32)', (c) => c.notNull())
      .addColumn('payload', 'text')
      .addColumn('recipient', 'varchar(320)')
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('claimed_until', 'bigint')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint')
      .execute();
    await db.schema.createIndex('outbox_due').on('outbox').columns(['state', 'next_attempt_at']).execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropTable('outbox').execute();
    await db.schema.dropTable('link_tokens').execute();
    await db.schema.alterTable('users').dropColumn('email_verified_at').execute();
  },
};
