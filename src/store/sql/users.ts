import type { Kysely } from 'kysely';
import type { Database, UsersTable } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { NewUser, UserPatch, UserStore } from '../types.js';
import { toUser } from './rows.js';

export function createUserStore(db: Kysely<Database>, engine: SqlEngine): UserStore {
  const findBy = async (column: 'id' | 'username_key' | 'email_key', value: string) => {
    const row = await db.selectFrom('users').selectAll().where(column, '=', value).executeTakeFirst();
    return row ? toUser(row) : undefined;
  };
  return {
    async insert(user: NewUser) {
      try {
        await db
          .insertInto('users')
          .values({
            id: user.id,
            username: user.username,
            username_key: user.usernameKey,
            email: user.email,
            email_key: user.emailKey,
            password_hash: user.passwordHash,
            roles: JSON.stringify(user.roles),
            disabled: 0,
            created_at: user.createdAt,
            updated_at: user.createdAt,
            email_verified_at: null,
          })
          .execute();
        return 'inserted';
      } catch (error) {
        if (engine.isUniqueViolation(error)) return 'taken';
        throw error;
      }
    },
    async keysTaken(usernameKey, emailKey) {
      const rows = await db
        .selectFrom('users')
        .select(['username_key', 'email_key'])
        .where((eb) => eb.or([eb('username_key', '=', usernameKey), eb('email_key', '=', emailKey)]))
        .execute();
      return {
        username: rows.some((r) => r.username_key === usernameKey),
        email: rows.some((r) => r.email_key === emailKey),
      };
    },
    findByUsernameKey: (key) => findBy('username_key', key),
    findByEmailKey: (key) => findBy('email_key', key),
    findById: (id) => findBy('id', id),
    async list(offset, limit) {
      const [rows, count] = await Promise.all([
        db.selectFrom('users').selectAll().orderBy('created_at').orderBy('id').offset(offset).limit(limit).execute(),
        db
          .selectFrom('users')
          .select((eb) => eb.fn.countAll<number>().as('total'))
          .executeTakeFirstOrThrow(),
      ]);
      return { users: rows.map(toUser), total: Number(count.total) };
    },
    async replacePasswordHash(id, expected, next, now) {
      const result = await db
        .updateTable('users')
        .set({ password_hash: next, updated_at: now })
        .where('id', '=', id)
        .where('password_hash', '=', expected)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async update(id, patch: UserPatch, now) {
      const set: Partial<UsersTable> = { updated_at: now };
      if (patch.roles !== undefined) set.roles = JSON.stringify(patch.roles);
      if (patch.disabled !== undefined) set.disabled = patch.disabled ? 1 : 0;
      await db.updateTable('users').set(set).where('id', '=', id).execute();
      return findBy('id', id);
    },
    async delete(id) {
      const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
    async markEmailVerified(id, email, now) {
      const result = await db
        .updateTable('users')
        .set({ email_verified_at: now, updated_at: now })
        .where('id', '=', id)
        .where('email', '=', email)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async changeEmail(id, email, emailKey, now) {
      try {
        const result = await db
          .updateTable('users')
          .set({ email, email_key: emailKey, email_verified_at: now, updated_at: now })
          .where('id', '=', id)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1 ? 'changed' : 'missing';
      } catch (error) {
        if (engine.isUniqueViolation(error)) return 'taken';
        throw error;
      }
    },
  };
}
