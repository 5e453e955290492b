/**
 * Every store over one Kysely database: one query API for SQLite and PostgreSQL. What differs
 * between the engines comes in as a SqlEngine, from sqlite.ts or postgres.ts.
 */
import { type Kysely, sql } from 'kysely';
import { isNetworkFailure } from '../network-errors.js';
import type { Database } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { EngineStores, GenerationSource, TransactionStores } from '../types.js';
import { createApiClientStore } from './api-clients.js';
import { createAuditStore } from './audit.js';
import { createCounterStore } from './counters.js';
import { createLinkTokenStore } from './link-tokens.js';
import { createMfaStore } from './mfa.js';
import { createOutboxStore } from './outbox.js';
import { createPasskeyStore } from './passkeys.js';
import { createRevocationStore } from './revocations.js';
import { createSessionStore } from './sessions.js';
import { createUserStore } from './users.js';

/** How many times a transaction the engine aborted for a conflict is run again. */
const CONFLICT_RETRIES = 3;

function transactionStores(db: Kysely<Database>, engine: SqlEngine): TransactionStores {
  return {
    users: createUserStore(db, engine),
    sessions: createSessionStore(db),
    linkTokens: createLinkTokenStore(db),
    outbox: createOutboxStore(db, engine),
    mfa: createMfaStore(db),
    passkeys: createPasskeyStore(db),
    audit: createAuditStore(db),
  };
}

export function createSqlStores(db: Kysely<Database>, engine: SqlEngine, generation: GenerationSource): EngineStores {
  return {
    ...transactionStores(db, engine),
    async transaction(work) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await db.transaction().execute((trx) => work(transactionStores(trx, engine)));
        } catch (error) {
          if (attempt >= CONFLICT_RETRIES || !engine.isConflict(error)) throw error;
        }
      }
    },
    generation,
    durableRevocations: createRevocationStore(db),
    apiClients: createApiClientStore(db, engine),
    counters: createCounterStore(db),
    health: [{ name: 'database', critical: true, check: async () => void (await sql`select 1`.execute(db)) }],
    isUnavailable: (error) => isNetworkFailure(error) || engine.isUnavailable(error),
    close: () => db.destroy(),
  };
}
