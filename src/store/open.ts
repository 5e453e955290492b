import { type Clock, systemClock } from '../clock.js';
import type { Config } from '../config.js';
import { openPostgresStores } from './postgres.js';
import { createRedisMirror } from './redis.js';
import { openSqliteStores } from './sqlite.js';
import type { Stores } from './types.js';

export interface OpenOptions {
  migrate: boolean;
  /** The clock the core uses, so token lifetimes become Redis TTLs in the same time frame. */
  clock?: Clock;
  warn?: (message: string, context?: Record<string, unknown>) => void;
}

/** Opens the configured database (migrating it first if asked) and, with REDIS_URL, the Redis fast path. */
export async function openStores(config: Config, options: OpenOptions): Promise<Stores> {
  const target = config.database;
  const clock = options.clock ?? systemClock;
  const stores =
    target.kind === 'sqlite'
      ? await openSqliteStores(target.file, options)
      : await openPostgresStores({ url: target.url, migrate: options.migrate, timeoutMs: config.storeTimeoutMs });
  if (!config.redisUrl) return { ...stores, revocations: stores.durableRevocations };
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
    redis: mirror,
    close: async () => {
      await mirror.close();
      await stores.close();
    },
  };
}
