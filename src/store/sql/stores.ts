/**
 * Every store over one Kysely database: one query API for SQLite and PostgreSQL. What differs
 * between the engines comes in as a SqlEngine, from sqlite.ts or postgres.ts.
 */
import { type Kysely, sql } from 'kysely';
import { isNetworkFailure } from '../network-errors.js';
import type { Database } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { EngineStores, GenerationSource } from '../types.js';
import { createCounterStore } from './counters.js';
import { createRevocationStore } from './revocations.js';
import { createSessionStore } from './sessions.js';
import { createUserStore } from './users.js';

export function createSqlStores(db: Kysely<Database>, engine: SqlEngine, generation: GenerationSource): EngineStores {
  return {
    generation,
    users: createUserStore(db, engine),
    sessions: createSessionStore(db),
    durableRevocations: createRevocationStore(db),
    counters: createCounterStore(db),
    health: [{ name: 'database', critical: true, check: async () => void (await sql`select 1`.execute(db)) }],
    isUnavailable: (error) => isNetworkFailure(error) || engine.isUnavailable(error),
    close: () => db.destroy(),
  };
}
