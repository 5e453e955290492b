import type { Migration } from 'kysely';
import type { AnyDb } from './any-db.js';

/**
 * The append-only audit log. No foreign key to users: the record of a deleted user (and of
 * its deletion) must outlive it.
 */
export const audit: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('audit_events')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('type', 'varchar(64)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(64)')
      .addColumn('actor_id', 'varchar(64)')
      .addColumn('ip', 'varchar(64)')
      .addColumn('user_agent', 'varchar(512)')
      .addColumn('session_id', 'varchar(64)')
      .addColumn('data', 'text')
      .execute();
    await db.schema.createIndex('audit_events_at').on('audit_events').columns(['at', 'id']).execute();
    await db.schema.createIndex('audit_events_user_at').on('audit_events').columns(['user_id', 'at']).execute();
    await db.schema.createIndex('audit_events_type_at').on('audit_events').columns(['type', 'at']).execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropTable('audit_events').execute();
  },
};
