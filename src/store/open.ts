/**
 * Opens the configured engines: the one place that chooses between SQLite, PostgreSQL and Redis.
 * The PostgreSQL and Redis drivers are loaded only when configured: the embedded default does
 * not carry them in memory (some 20 MB of resident set between them).
 */
import type { Kysely } from 'kysely';
import { type Clock, systemClock } from '../clock.js';
import type { Config } from '../config.js';
import type { RedisMirror } from './redis.js';
import type { Database } from './schema.js';
import type { SqlEngine } from './sql-engine.js';
import { openSqliteDb, openSqliteStores, sqliteEngine } from './sqlite.js';
import type { Stores } from './types.js';

export interface OpenOptions {
  migrate: boolean;
  /** The clock the core uses, so token lifetimes become Redis TTLs in the same time frame. */
  clock?: Clock;
  warn?: (message: string, context?: Record<string, unknown>) => void;
}

/** The stores, and with REDIS_URL the Redis mirror behind them (for readiness waits and tests). */
export interface OpenedStores extends Stores {
  redis?: RedisMirror;
}

/** Opens the configured database (migrating it first if asked) and, with REDIS_URL, the Redis fast path. */
export async function openStores(config: Config, options: OpenOptions): Promise<OpenedStores> {
  const target = config.database;
  const clock = options.clock ?? systemClock;
  const stores =
    target.kind === 'sqlite'
      ? await openSqliteStores(target.file, options)
      : await (await import('./postgres.js')).openPostgresStores({
          url: target.url,
          migrate: options.migrate,
          timeoutMs: config.storeTimeoutMs,
        });
  if (!config.redisUrl) return { ...stores, revocations: stores.durableRevocations };
  const { createRedisMirror } = await import('./redis.js');
  const mirror = createRedisMirror(stores.durableRevocations, stores.counters, {
    url: config.redisUrl,
    prefix: config.redisPrefix,
    timeoutMs: Math.min(config.storeTimeoutMs, 1000),
    now: () => clock.now(),
    warn: options.warn ?? ((message, context) => console.warn(JSON.stringify({ level: 40, msg: message, ...context }))),
  });
  return {
    ...stores,
    revocations: mirror.revocations,
    counters: mirror.counters,
    health: [...stores.health, mirror.health],
    isUnavailable: (error) => stores.isUnavailable(error) || mirror.isUnavailable(error),
    redis: mirror,
    close: async () => {
      await mirror.close();
      await stores.close();
    },
  };
}

/** The configured database alone, unmigrated, with its engine: for `tessera migrate`. */
export async function openDatabase(config: Config): Promise<{ db: Kysely<Database>; engine: SqlEngine }> {
  const target = config.database;
  if (target.kind === 'sqlite') return { db: openSqliteDb(target.file), engine: sqliteEngine };
  const { openPostgresDb, postgresEngine } = await import('./postgres.js');
  return {
    db: openPostgresDb({ url: target.url, migrate: false, timeoutMs: config.storeTimeoutMs }),
    engine: postgresEngine,
  };
}
