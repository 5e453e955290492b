import type { Kysely } from 'kysely';
import type { ApiClientsTable, Database } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { ApiClientRecord, ApiClientStore } from '../types.js';

const fromRow = (row: ApiClientsTable): ApiClientRecord => ({
  id: row.id,
  name: row.name,
  secretHash: row.secret_hash,
  createdAt: Number(row.created_at),
});

export function createApiClientStore(db: Kysely<Database>, engine: SqlEngine): ApiClientStore {
  return {
    async insert(client) {
      try {
        await db
          .insertInto('api_clients')
          .values({ id: client.id, name: client.name, secret_hash: client.secretHash, created_at: client.createdAt })
          .execute();
        return 'inserted';
      } catch (error) {
        if (engine.isUniqueViolation(error)) return 'taken';
        throw error;
      }
    },
    async findById(id) {
      const row = await db.selectFrom('api_clients').selectAll().where('id', '=', id).executeTakeFirst();
      return row && fromRow(row);
    },
    async list() {
      return (await db.selectFrom('api_clients').selectAll().orderBy('name').execute()).map(fromRow);
    },
    async delete(idOrName) {
      const result = await db
        .deleteFrom('api_clients')
        .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
