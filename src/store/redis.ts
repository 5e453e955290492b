/**
 * Redis as the fast path for access-token revocations, shared by every instance. The database
 * stays the source of truth: a revocation is committed there first, then mirrored here with a
 * TTL ending when the token would have expired anyway.
 *
 * Redis is trusted only while it holds the `synced` marker, written after a full copy of the
 * durable list. A Redis that restarted or was flushed has lost the marker, so checks fall back
 * to the database until a resync puts both back. While Redis cannot be reached, checks go to
 * the database (correct, slower), and the client reconnects on its own.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { isNetworkFailure } from './network-errors.js';
import { windowOf } from './rate-window.js';
import type { CounterStore, DurableRevocationStore, HealthCheck, RevocationStore } from './types.js';

export interface RedisMirrorOptions {
  url: string;
  prefix: string;
  /** Bound on any one Redis command, so a hung server cannot hold a request. */
  timeoutMs: number;
  warn: (message: string, context?: Record<string, unknown>) => void;
  now?: () => number;
}

export interface RedisMirror {
  revocations: RevocationStore;
  /** Rate-limit counters in Redis, falling back to the database's while Redis cannot be reached. */
  counters: CounterStore;
  health: HealthCheck;
  /** Whether an error is ioredis saying the server is away (every command here falls back instead of throwing one). */
  isUnavailable(error: unknown): boolean;
  client: Redis;
  /** Copies the durable list into Redis and marks it synced; resolves false if another instance holds the lock. */
  resync(): Promise<boolean>;
  close(): Promise<void>;
}

const RESYNC_PAGE = 1000;

export function createRedisMirror(
  durable: DurableRevocationStore,
  durableCounters: CounterStore,
  options: RedisMirrorOptions,
): RedisMirror {
  const now = options.now ?? Date.now;
  const key = (suffix: string) => `${options.prefix}${suffix}`;
  const SYNCED = key('revocations:synced');
  const LOCK = key('revocations:resync-lock');
  const jtiKey = (jti: string) => key(`revoked:jti:${jti}`);

  const client = new Redis(options.url, {
    // Fail fast while disconnected instead of queueing: the caller falls back to the database.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: options.timeoutMs,
    commandTimeout: options.timeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    lazyConnect: false,
    // Commands issued in one turn of the event loop go out in one write: under load, one
    // round trip serves the rate-limit counts and revocation checks of many requests.
    enableAutoPipelining: true,
  });
  // A fixed window's count and its expiry in one atomic command (one round trip, no MULTI).
  const hitScript = {
    numberOfKeys: 1,
    lua: "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n",
  };
  client.defineCommand('tesseraHit', hitScript);
  const hitCounter = (windowKey: string, ttlMs: number): Promise<unknown> =>
    (client as unknown as { tesseraHit(key: string, ttl: number): Promise<unknown> }).tesseraHit(windowKey, ttlMs);
  let reportedDown = false;
  client.on('error', (error: Error) => {
    if (!reportedDown) options.warn('Redis unreachable; revocation checks use the database', { reason: error.message });
    reportedDown = true;
  });
  client.on('ready', () => {
    if (reportedDown) options.warn('Redis reachable again');
    reportedDown = false;
    void resync().catch(() => {});
  });

  let resyncing: Promise<boolean> | undefined;
  const resync = (): Promise<boolean> => {
    resyncing ??= (async () => {
      const token = randomUUID();
      if ((await client.set(LOCK, token, 'PX', 60_000, 'NX')) !== 'OK') return false;
      try {
        let after = '';
        for (;;) {
          const page = await durable.listLive(now(), after, RESYNC_PAGE);
          if (page.length === 0) break;
          const pipeline = client.pipeline();
          for (const r of page) pipeline.set(jtiKey(r.jti), '1', 'PX', Math.max(1, r.expiresAt - now()));
          await pipeline.exec();
          after = page.at(-1)?.jti ?? after;
        }
        await client.set(SYNCED, token);
        return true;
      } finally {
        if ((await client.get(LOCK)) === token) await client.del(LOCK);
      }
    })().finally(() => {
      resyncing = undefined;
    });
    return resyncing;
  };

  const revocations: RevocationStore = {
    async revoke(jti, expiresAt) {
      await durable.revoke(jti, expiresAt);
      const ttl = expiresAt - now();
      if (ttl <= 0) return 'visible';
      try {
        if (client.status !== 'ready') return 'pending';
        await client.set(jtiKey(jti), '1', 'PX', ttl);
        return 'visible';
      } catch {
        return 'pending';
      }
    },
    async isRevoked(jti) {
      if (client.status !== 'ready') return durable.isRevoked(jti);
      try {
        const [synced, revoked] = await client.mget(SYNCED, jtiKey(jti));
        if (synced === null) {
          void resync().catch(() => {});
          return durable.isRevoked(jti);
        }
        return revoked !== null;
      } catch {
        return durable.isRevoked(jti);
      }
    },
    purge: (nowMs) => durable.purge(nowMs),
  };

  const counterKey = (windowKey: string) => key(`rate:${windowKey}`);
  const counters: CounterStore = {
    async hit(name, windowMs, nowMs) {
      if (client.status !== 'ready') return durableCounters.hit(name, windowMs, nowMs);
      const { windowKey, resetAt } = windowOf(name, windowMs, nowMs);
      try {
        const count = await hitCounter(counterKey(windowKey), Math.max(1, resetAt - nowMs));
        if (typeof count !== 'number') throw new Error('unexpected INCR reply');
        return { count, resetAt };
      } catch {
        return durableCounters.hit(name, windowMs, nowMs);
      }
    },
    async peek(name, windowMs, nowMs) {
      if (client.status !== 'ready') return durableCounters.peek(name, windowMs, nowMs);
      const { windowKey, resetAt } = windowOf(name, windowMs, nowMs);
      try {
        return { count: Number((await client.get(counterKey(windowKey))) ?? 0), resetAt };
      } catch {
        return durableCounters.peek(name, windowMs, nowMs);
      }
    },
    async reset(name, windowMs, nowMs) {
      await durableCounters.reset(name, windowMs, nowMs);
      if (client.status === 'ready')
        await client.del(counterKey(windowOf(name, windowMs, nowMs).windowKey)).catch(() => 0);
    },
    purge: (nowMs) => durableCounters.purge(nowMs),
  };

  return {
    revocations,
    counters,
    client,
    resync,
    isUnavailable: (error) =>
      isNetworkFailure(error) ||
      (error instanceof Error &&
        (error.name === 'MaxRetriesPerRequestError' ||
          /Connection is closed|Command timed out|Stream isn't writeable/.test(error.message))),
    health: {
      name: 'redis',
      critical: false,
      check: async () => {
        if ((await client.ping()) !== 'PONG') throw new Error('Redis did not answer PONG');
      },
    },
    close: async () => {
      client.disconnect();
    },
  };
}
