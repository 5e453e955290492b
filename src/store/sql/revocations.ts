import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { DurableRevocationStore } from '../types.js';
import { compiledOnce } from './compiled-once.js';

export function createRevocationStore(db: Kysely<Database>): DurableRevocationStore {
  const revokedJti = compiledOnce(db, 'revoked_jti', () =>
    db.selectFrom('revoked_tokens').select('jti').where('jti', '=', '').compile(),
  );
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
    async isRevoked(jti) {
      return (await revokedJti(jti)).length > 0;
    },
    async purge(now) {
      const result = await db.deleteFrom('revoked_tokens').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
