import type { Migration } from 'kysely';
import type { AnyDb } from './any-db.js';

/** Resource servers allowed to introspect tokens and follow revocations; secrets stored hashed. */
export const apiClients: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('api_clients')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(64)', (c) => c.notNull().unique())
      .addColumn('secret_hash', 'varchar(64)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropTable('api_clients').execute();
  },
};
