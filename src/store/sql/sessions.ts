import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { Rotation, SessionStore } from '../types.js';
import { compiledOnce } from './compiled-once.js';
import { PURGE_BATCH, purgeInBatches } from './purge-in-batches.js';
import { toSession, toUser } from './rows.js';

export function createSessionStore(db: Kysely<Database>): SessionStore {
  const sessionWithUser = compiledOnce(db, () =>
    db
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .selectAll('s')
      .select([
        'u.username',
        'u.email',
        'u.password_hash',
        'u.roles',
        'u.disabled',
        'u.created_at as user_created_at',
        'u.updated_at as user_updated_at',
        'u.email_verified_at',
      ])
      .where('s.id', '=', '')
      .compile(),
  );
  return {
    async insert(s) {
      await db
        .insertInto('sessions')
        .values({
          id: s.id,
          user_id: s.userId,
          refresh_jti: s.refreshJti,
          refresh_issued_at: s.refreshIssuedAt,
          previous_jti: s.previousJti,
          rotated_at: s.rotatedAt,
          created_at: s.createdAt,
          last_used_at: s.lastUsedAt,
          expires_at: s.expiresAt,
          ended_at: s.endedAt,
          end_reason: s.endReason,
          user_agent: s.userAgent,
          ip: s.ip,
          aal: s.aal,
          amr: JSON.stringify(s.amr),
        })
        .execute();
    },
    async find(id) {
      const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toSession(row) : undefined;
    },
    async findWithUser(id) {
      const [row] = await sessionWithUser(id);
      if (!row) return undefined;
      const user = toUser({
        id: row.user_id,
        username: row.username,
        username_key: '',
        email: row.email,
        email_key: '',
        password_hash: row.password_hash,
        roles: row.roles,
        disabled: row.disabled,
        created_at: row.user_created_at,
        updated_at: row.user_updated_at,
        email_verified_at: row.email_verified_at,
      });
      return { session: toSession(row), user };
    },
    async rotate(id, r: Rotation, now) {
      const result = await db
        .updateTable('sessions')
        .set({
          previous_jti: r.fromJti,
          refresh_jti: r.toJti,
          refresh_issued_at: r.issuedAt,
          rotated_at: now,
          last_used_at: now,
          expires_at: r.expiresAt,
        })
        .where('id', '=', id)
        .where('refresh_jti', '=', r.fromJti)
        .where('ended_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async end(id, reason, now) {
      const result = await db
        .updateTable('sessions')
        .set({ ended_at: now, end_reason: reason })
        .where('id', '=', id)
        .where('ended_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async endAllForUser(userId, reason, now, exceptId) {
      // One statement that says what it ended: it can run inside a caller's transaction.
      let live = db
        .updateTable('sessions')
        .set({ ended_at: now, end_reason: reason })
        .where('user_id', '=', userId)
        .where('ended_at', 'is', null);
      if (exceptId !== undefined) live = live.where('id', '!=', exceptId);
      return (await live.returning('id').execute()).map((r) => r.id);
    },
    async listLive(userId, now) {
      const rows = await db
        .selectFrom('sessions')
        .selectAll()
        .where('user_id', '=', userId)
        .where('ended_at', 'is', null)
        .where('expires_at', '>', now)
        .orderBy('created_at', 'desc')
        .execute();
      return rows.map(toSession);
    },
    async purge(now) {
      // Found by index: expired ones, then ended ones (a partial index).
      const due = [
        () => db.selectFrom('sessions').select('id').where('expires_at', '<=', now).limit(PURGE_BATCH),
        () => db.selectFrom('sessions').select('id').where('ended_at', 'is not', null).limit(PURGE_BATCH),
      ];
      let purged = 0;
      for (const batch of due) {
        purged += await purgeInBatches(async () =>
          Number((await db.deleteFrom('sessions').where('id', 'in', batch()).executeTakeFirst()).numDeletedRows),
        );
      }
      return purged;
    },
  };
}
