/**
 * Every store over one Kysely database: one query API for SQLite and PostgreSQL. What differs
 * between the engines comes in as a SqlEngine, from sqlite.ts or postgres.ts.
 */
import { type Kysely, sql } from 'kysely';
import { groupCommit } from '../group-commit.js';
import { isNetworkFailure } from '../network-errors.js';
import type { Database } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { EngineStores, GenerationSource, TransactionStores } from '../types.js';
import { createApiClientStore } from './api-clients.js';
import { createAuditStore } from './audit.js';
import { afterRaisingWrites, revokeThenWait, waitFor } from './commit-wait.js';
import { batchedCounterHits, type CounterHit, createCounterStore } from './counters.js';
import { createLinkTokenStore } from './link-tokens.js';
import { createMfaStore } from './mfa.js';
import { createOutboxStore } from './outbox.js';
import { createPasskeyStore } from './passkeys.js';
import { createRevocationStore } from './revocations.js';
import { batchedRotation, batchedSessionLookup, createSessionStore, type SessionRotation } from './sessions.js';
import { createUserStore } from './users.js';

/** How many times a transaction the engine aborted for a conflict is run again. */
const CONFLICT_RETRIES = 3;

function transactionStores(db: Kysely<Database>, engine: SqlEngine): TransactionStores {
  return {
    users: createUserStore(db, engine),
    sessions: createSessionStore(db, engine),
    linkTokens: createLinkTokenStore(db, engine),
    outbox: createOutboxStore(db, engine),
    mfa: createMfaStore(db, engine),
    passkeys: createPasskeyStore(db, engine),
    audit: createAuditStore(db, engine),
  };
}

/**
 * `purging` runs the purges: the same database, through a connection that may be slow without
 * holding up requests (SQLite's, on a thread of its own); `db` itself by default. A purge raises
 * no generation a writer must wait for: it deletes only what is already unusable.
 */
export function createSqlStores(
  db: Kysely<Database>,
  engine: SqlEngine,
  generation: GenerationSource,
  purging: Kysely<Database> = db,
): EngineStores {
  const wait = generation.commitWaitMs > 0 ? () => waitFor(generation.commitWaitMs) : undefined;
  // Every store over `purging`, each giving its purge.
  const purgers = {
    ...transactionStores(purging, engine),
    counters: createCounterStore(purging, engine),
    revocations: createRevocationStore(purging, engine),
  };
  const root = withPurges(
    wait ? afterRaisingWrites(transactionStores(db, engine), wait) : transactionStores(db, engine),
    purgers,
  );
  const counters = createCounterStore(db, engine);
  /** Runs `work` again when the engine aborted it for a conflict (a deadlock); the other side committed. */
  const retryingConflicts = async <T>(work: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (attempt >= CONFLICT_RETRIES || !engine.isConflict(error)) throw error;
      }
    }
  };
  const inTransaction = <T>(work: (trx: Kysely<Database>) => Promise<T>): Promise<T> =>
    retryingConflicts(() => db.transaction().execute(work));
  const transaction: EngineStores['transaction'] = async (work) => {
    if (!wait) return inTransaction((trx) => work(transactionStores(trx, engine)));
    let raised = false;
    const raise = () => {
      raised = true;
    };
    const result = await inTransaction((trx) => work(afterRaisingWrites(transactionStores(trx, engine), raise)));
    if (raised) await wait();
    return result;
  };
  // Rotations (one a refresh) and rate-limit counts (one a login or registration) are made with
  // those of the requests that arrived together: one statement for each kind, so one round trip
  // and one commit (on SQLite one fsync) for all. Rows go in key order, so two instances'
  // statements lock them in the same order and cannot deadlock on each other.
  const together = <T, R>(key: (item: T) => string, write: (items: readonly T[]) => Promise<R[]>) =>
    groupCommit(async (batch: readonly T[]) => {
      const order = keyOrder(batch, key);
      const written = await retryingConflicts(() => write(order.map((i) => batch[i] as T)));
      const results: R[] = [];
      order.forEach((i, k) => {
        results[i] = written[k] as R;
      });
      return results;
    });
  const rotate = together((r: SessionRotation) => r.rotation.sessionId, batchedRotation(db, engine));
  // The lookup every authenticated request makes that the access cache does not answer (every
  // first use of an access token; a refresh token checked outside the rotation's one statement):
  // those that arrive together share a statement.
  // A lookup that arrives while one is out waits for the next, so it sees every write committed
  // before it arrived.
  const findWithUser = groupCommit(batchedSessionLookup(db, engine));
  const hit = together((h: CounterHit) => h.key, batchedCounterHits(db, engine));
  const revocations = { ...createRevocationStore(db, engine), purge: purgers.revocations.purge };
  return {
    ...root,
    sessions: { ...root.sessions, findWithUser, rotate: (rotation, now) => rotate({ rotation, now }) },
    transaction,
    generation,
    durableRevocations: wait ? revokeThenWait(revocations, wait) : revocations,
    apiClients: createApiClientStore(db, engine),
    counters: {
      ...counters,
      hit: (key, windowMs, now) => hit({ key, windowMs, now }),
      purge: purgers.counters.purge,
    },
    health: [{ name: 'database', critical: true, check: async () => void (await sql`select 1`.execute(db)) }],
    isUnavailable: (error) => isNetworkFailure(error) || engine.isUnavailable(error),
    close: async () => {
      await db.destroy();
      if (purging !== db) await purging.destroy();
    },
  };
}

/** `stores` with each purge taken from `purgers`. */
function withPurges(stores: TransactionStores, purgers: TransactionStores): TransactionStores {
  return {
    ...stores,
    sessions: { ...stores.sessions, purge: purgers.sessions.purge },
    linkTokens: { ...stores.linkTokens, purge: purgers.linkTokens.purge },
    outbox: { ...stores.outbox, purge: purgers.outbox.purge },
    mfa: { ...stores.mfa, purge: purgers.mfa.purge },
    passkeys: { ...stores.passkeys, purge: purgers.passkeys.purge },
    audit: { ...stores.audit, purge: purgers.audit.purge },
  };
}

/**
 * The indexes of `items` in the order of their keys' code units: any fixed order serves (every
 * instance uses the same), and localeCompare cost a microsecond a comparison, profiled.
 */
function keyOrder<T>(items: readonly T[], key: (item: T) => string): number[] {
  return items.map((_, i) => i).sort((a, b) => compareText(key(items[a] as T), key(items[b] as T)));
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
