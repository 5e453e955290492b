import type { Kysely, Selectable } from 'kysely';
import type { Database, MfaFactorsTable } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { MfaFactorRecord, MfaStore } from '../types.js';
import { purgeDue } from './purge-in-batches.js';

const optional = (value: number | null) => (value === null ? null : Number(value));

function toFactor(row: Selectable<MfaFactorsTable>): MfaFactorRecord {
  return {
    id: row.id,
    userId: row.user_id,
    type: 'totp',
    status: row.status === 'confirmed' ? 'confirmed' : 'pending',
    secret: row.secret,
    lastStep: optional(row.last_step),
    createdAt: Number(row.created_at),
    confirmedAt: optional(row.confirmed_at),
    lastUsedAt: optional(row.last_used_at),
  };
}

export function createMfaStore(db: Kysely<Database>, engine: SqlEngine): MfaStore {
  return {
    async insertFactor(f) {
      await db
        .insertInto('mfa_factors')
        .values({
          id: f.id,
          user_id: f.userId,
          type: f.type,
          status: f.status,
          secret: f.secret,
          last_step: f.lastStep,
          created_at: f.createdAt,
          confirmed_at: f.confirmedAt,
          last_used_at: f.lastUsedAt,
        })
        .execute();
    },
    async findFactor(id) {
      const row = await db.selectFrom('mfa_factors').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toFactor(row) : undefined;
    },
    async listFactors(userId) {
      const rows = await db
        .selectFrom('mfa_factors')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at')
        .execute();
      return rows.map(toFactor);
    },
    async deletePending(userId) {
      await db.deleteFrom('mfa_factors').where('user_id', '=', userId).where('status', '=', 'pending').execute();
    },
    async confirmFactor(id, step, now) {
      const result = await db
        .updateTable('mfa_factors')
        .set({ status: 'confirmed', confirmed_at: now, last_step: step, last_used_at: now })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async acceptStep(id, step, now) {
      // One conditional update: the row moves forward for exactly one caller per step.
      const result = await db
        .updateTable('mfa_factors')
        .set({ last_step: step, last_used_at: now })
        .where('id', '=', id)
        .where('status', '=', 'confirmed')
        .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async deleteFactor(userId, id) {
      const result = await db
        .deleteFrom('mfa_factors')
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
    async deleteAllFactors(userId) {
      await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
      const result = await db.deleteFrom('mfa_factors').where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async replaceRecoveryCodes(userId, hashes, now) {
      await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
      if (hashes.length === 0) return;
      await db
        .insertInto('recovery_codes')
        .values(hashes.map((hash) => ({ code_hash: hash, user_id: userId, created_at: now, used_at: null })))
        .execute();
    },
    async useRecoveryCode(userId, hash, now) {
      const result = await db
        .updateTable('recovery_codes')
        .set({ used_at: now })
        .where('code_hash', '=', hash)
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async recoveryCodesLeft(userId) {
      const row = await db
        .selectFrom('recovery_codes')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async insertChallenge(c, now) {
      await db
        .insertInto('mfa_challenges')
        .values({
          token_hash: c.hash,
          user_id: c.userId,
          created_at: now,
          expires_at: c.expiresAt,
          failures: c.failures,
          used_at: null,
        })
        .execute();
    },
    async findChallenge(hash, now, maxFailures) {
      const row = await db
        .selectFrom('mfa_challenges')
        .select(['token_hash', 'user_id', 'expires_at', 'failures'])
        .where('token_hash', '=', hash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .where('failures', '<', maxFailures)
        .executeTakeFirst();
      return row
        ? {
            hash: row.token_hash,
            userId: row.user_id,
            expiresAt: Number(row.expires_at),
            failures: Number(row.failures),
          }
        : undefined;
    },
    async failChallenge(hash) {
      await db
        .updateTable('mfa_challenges')
        .set((eb) => ({ failures: eb('failures', '+', 1) }))
        .where('token_hash', '=', hash)
        .execute();
    },
    async consumeChallenge(hash, now) {
      const result = await db
        .updateTable('mfa_challenges')
        .set({ used_at: now })
        .where('token_hash', '=', hash)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    purge(now) {
      // Used or expired; found along the expiry's index, where the unused live ones are few.
      return purgeDue(db, engine, 'mfa_challenges', 'expires_at', (eb) =>
        eb.or([eb('expires_at', '<=', now), eb('used_at', 'is not', null)]),
      );
    },
  };
}
