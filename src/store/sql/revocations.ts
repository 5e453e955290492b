import { type Kysely, sql } from 'kysely';
import { groupCommit } from '../group-commit.js';
import type { Database } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { DurableRevocationStore } from '../types.js';
import { compiledOnce } from './compiled-once.js';
import { purgeDue } from './purge-in-batches.js';
import { inStatements } from './statement-limits.js';

export function createRevocationStore(db: Kysely<Database>, engine: SqlEngine): DurableRevocationStore {
  // Without Redis every access-cache miss checks its token here, beside its session lookup: the
  // checks that arrive together share one statement, as the lookups do (stores.ts). A statement
  // a request cost a round trip and a transaction each: a miss on PostgreSQL took 219.6 µs of CPU
  // against 104.3 batched (side by side, docs/BENCHMARKS.md session 20).
  const isRevoked = groupCommit(revokedAmong(db, engine));
  return {
    async revoke(jti, expiresAt) {
      await db
        .insertInto('revoked_tokens')
        .values({ jti, expires_at: expiresAt })
        .onConflict((oc) => oc.column('jti').doNothing())
        .execute();
      return 'visible';
    },
    async listLive(now, afterJti, limit) {
      const rows = await db
        .selectFrom('revoked_tokens')
        .select(['jti', 'expires_at'])
        .where('expires_at', '>', now)
        .where('jti', '>', afterJti)
        .orderBy('jti')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ jti: r.jti, expiresAt: Number(r.expires_at) }));
    },
    isRevoked,
    purge(now) {
      return purgeDue(db, engine, 'revoked_tokens', 'expires_at', (eb) => eb('expires_at', '<=', now));
    },
  };
}

/** Which of `jtis` are revoked, in one statement per ROWS_PER_STATEMENT of them (inStatements). */
function revokedAmong(db: Kysely<Database>, engine: SqlEngine): (jtis: readonly string[]) => Promise<boolean[]> {
  const wanted = engine.rowsTable('wanted', ['text']);
  const lookup = compiledOnce(db, 'revoked_jtis', () =>
    db
      .selectFrom('revoked_tokens')
      .select('jti')
      .where('jti', 'in', sql<string>`(select column1 from ${wanted.sql})`)
      .compile(),
  );
  return async (jtis) => {
    const rows = await inStatements([...new Set(jtis)], (chunk) =>
      lookup(...wanted.parameters(chunk.map((jti) => [jti]))),
    );
    const revoked = new Set(rows.map((row) => row.jti));
    return jtis.map((jti) => revoked.has(jti));
  };
}
