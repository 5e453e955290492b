import type { Migration } from 'kysely';
import type { AnyDb } from './any-db.js';

/** WebAuthn credentials (public keys only) and the single-use challenges of their ceremonies. */
export const passkeys: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('passkeys')
      // A credential id is at most 1,023 bytes: 1,364 characters of base64url.
      .addColumn('id', 'varchar(1400)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('user_handle', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(64)', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('counter', 'bigint', (c) => c.notNull())
      .addColumn('transports', 'varchar(128)', (c) => c.notNull())
      .addColumn('device_type', 'varchar(16)', (c) => c.notNull())
      .addColumn('backed_up', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint')
      .execute();
    await db.schema.createIndex('passkeys_user_id').on('passkeys').column('user_id').execute();

    await db.schema
      .createTable('passkey_challenges')
      .addColumn('challenge', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('ceremony', 'varchar(16)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(64)', (c) => c.references('users.id').onDelete('cascade'))
      .addColumn('session_id', 'varchar(64)')
      .addColumn('mfa_token_hash', 'varchar(64)')
      .addColumn('user_handle', 'varchar(64)')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('passkey_challenges_expires_at')
      .on('passkey_challenges')
      .column('expires_at')
      .execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropTable('passkey_challenges').execute();
    await db.schema.dropTable('passkeys').execute();
  },
};
