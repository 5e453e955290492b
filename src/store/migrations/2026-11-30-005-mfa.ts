import type { Migration } from 'kysely';
import type { AnyDb } from './any-db.js';

/** Second factors (TOTP, secrets sealed), recovery codes (hashed), login challenges, and each session's assurance. */
export const mfa: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .alterTable('sessions')
      .addColumn('aal', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
    await db.schema
      .alterTable('sessions')
      .addColumn('amr', 'varchar(64)', (c) => c.notNull().defaultTo('["pwd"]'))
      .execute();

    await db.schema
      .createTable('mfa_factors')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('type', 'varchar(16)', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('secret', 'text', (c) => c.notNull())
      .addColumn('last_step', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('confirmed_at', 'bigint')
      .addColumn('last_used_at', 'bigint')
      .execute();
    await db.schema.createIndex('mfa_factors_user_id').on('mfa_factors').column('user_id').execute();

    await db.schema
      .createTable('recovery_codes')
      .addColumn('code_hash', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema.createIndex('recovery_codes_user_id').on('recovery_codes').column('user_id').execute();

    await db.schema
      .createTable('mfa_challenges')
      .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema.createIndex('mfa_challenges_expires_at').on('mfa_challenges').column('expires_at').execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropTable('mfa_challenges').execute();
    await db.schema.dropTable('recovery_codes').execute();
    await db.schema.dropTable('mfa_factors').execute();
    await db.schema.alterTable('sessions').dropColumn('amr').execute();
    await db.schema.alterTable('sessions').dropColumn('aal').execute();
  },
};
