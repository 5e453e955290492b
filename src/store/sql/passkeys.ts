import type { Kysely, Selectable } from 'kysely';
import type { Database, PasskeyChallengesTable, PasskeysTable } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { PasskeyCeremony, PasskeyChallengeRecord, PasskeyRecord, PasskeyStore } from '../types.js';
import { purgeDue } from './purge-in-batches.js';

const CEREMONIES: readonly PasskeyCeremony[] = ['register', 'login', 'mfa'];

function toPasskey(row: Selectable<PasskeysTable>): PasskeyRecord {
  return {
    id: row.id,
    userId: row.user_id,
    userHandle: row.user_handle,
    name: row.name,
    publicKey: row.public_key,
    counter: Number(row.counter),
    transports: row.transports === '' ? [] : row.transports.split(','),
    deviceType: row.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backedUp: Number(row.backed_up) === 1,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

function toChallenge(row: Selectable<PasskeyChallengesTable>): PasskeyChallengeRecord | undefined {
  const ceremony = CEREMONIES.find((c) => c === row.ceremony);
  if (!ceremony) return undefined;
  return {
    challenge: row.challenge,
    ceremony,
    userId: row.user_id,
    sessionId: row.session_id,
    mfaTokenHash: row.mfa_token_hash,
    userHandle: row.user_handle,
    expiresAt: Number(row.expires_at),
  };
}

export function createPasskeyStore(db: Kysely<Database>, engine: SqlEngine): PasskeyStore {
  return {
    async insert(p) {
      // ON CONFLICT rather than catching the violation: on PostgreSQL that would abort the transaction.
      const result = await db
        .insertInto('passkeys')
        .values({
          id: p.id,
          user_id: p.userId,
          user_handle: p.userHandle,
          name: p.name,
          public_key: p.publicKey,
          counter: p.counter,
          transports: p.transports.join(','),
          device_type: p.deviceType,
          backed_up: p.backedUp ? 1 : 0,
          created_at: p.createdAt,
          last_used_at: p.lastUsedAt,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1 ? 'inserted' : 'taken';
    },
    async findById(id) {
      const row = await db.selectFrom('passkeys').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toPasskey(row) : undefined;
    },
    async listForUser(userId) {
      const rows = await db
        .selectFrom('passkeys')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map(toPasskey);
    },
    async rename(userId, id, name) {
      const result = await db
        .updateTable('passkeys')
        .set({ name })
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async delete(userId, id) {
      const result = await db
        .deleteFrom('passkeys')
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
    async recordUse(id, seen, next, now) {
      const result = await db
        .updateTable('passkeys')
        .set({ counter: next, last_used_at: now })
        .where('id', '=', id)
        .where('counter', '=', seen)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async insertChallenge(c, now) {
      await db
        .insertInto('passkey_challenges')
        .values({
          challenge: c.challenge,
          ceremony: c.ceremony,
          user_id: c.userId,
          session_id: c.sessionId,
          mfa_token_hash: c.mfaTokenHash,
          user_handle: c.userHandle,
          created_at: now,
          expires_at: c.expiresAt,
          used_at: null,
        })
        .execute();
    },
    async consumeChallenge(challenge, ceremony, now) {
      // The conditional update decides which of two racing responses gets the challenge.
      const result = await db
        .updateTable('passkey_challenges')
        .set({ used_at: now })
        .where('challenge', '=', challenge)
        .where('ceremony', '=', ceremony)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return undefined;
      const row = await db
        .selectFrom('passkey_challenges')
        .selectAll()
        .where('challenge', '=', challenge)
        .executeTakeFirst();
      return row ? toChallenge(row) : undefined;
    },
    purge(now) {
      // Used or expired; found along the expiry's index, where the unused live ones are few.
      return purgeDue(db, engine, 'passkey_challenges', 'expires_at', (eb) =>
        eb.or([eb('expires_at', '<=', now), eb('used_at', 'is not', null)]),
      );
    },
  };
}
