/**
 * The user, session and revocation stores over Kysely: one query API for SQLite and PostgreSQL.
 * What differs between the engines (opening, error codes) lives in sqlite.ts and postgres.ts.
 */
import { type CompiledQuery, createQueryId, type Kysely, type Selectable, sql } from 'kysely';
import type { Database, SessionsTable, UsersTable } from './schema.js';
import type {
  CounterStore,
  DurableRevocationStore,
  EngineStores,
  GenerationSource,
  NewUser,
  Rotation,
  SessionRecord,
  SessionStore,
  UserPatch,
  UserRecord,
  UserStore,
} from './types.js';

export interface Dialect {
  isUniqueViolation(error: unknown): boolean;
}

/**
 * A query built and compiled once, then run with new parameters (in the order the builder
 * placed them). For the lookups every request makes: building and compiling through the query
 * builder cost more than running the query, profiled.
 */
export function compiledOnce<R>(
  db: Kysely<Database>,
  compile: () => CompiledQuery<R>,
): (...parameters: unknown[]) => Promise<R[]> {
  let compiled: CompiledQuery<R> | undefined;
  return async (...parameters) => {
    compiled ??= compile();
    return (await db.executeQuery<R>({ ...compiled, parameters, queryId: createQueryId() })).rows;
  };
}

function toUser(row: Selectable<UsersTable>): UserRecord {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    passwordHash: row.password_hash,
    roles: parseRoles(row.roles),
    disabled: Number(row.disabled) === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function parseRoles(raw: string): string[] {
  const value: unknown = JSON.parse(raw);
  return Array.isArray(value) ? value.filter((r): r is string => typeof r === 'string') : [];
}

function toSession(row: Selectable<SessionsTable>): SessionRecord {
  const optionalNumber = (value: number | null) => (value === null ? null : Number(value));
  return {
    id: row.id,
    userId: row.user_id,
    refreshJti: row.refresh_jti,
    refreshIssuedAt: Number(row.refresh_issued_at),
    previousJti: row.previous_jti,
    rotatedAt: optionalNumber(row.rotated_at),
    createdAt: Number(row.created_at),
    lastUsedAt: Number(row.last_used_at),
    expiresAt: Number(row.expires_at),
    endedAt: optionalNumber(row.ended_at),
    endReason: row.end_reason,
    userAgent: row.user_agent,
    ip: row.ip,
  };
}

export function createUserStore(db: Kysely<Database>, dialect: Dialect): UserStore {
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
          })
          .execute();
        return 'inserted';
      } catch (error) {
        if (dialect.isUniqueViolation(error)) return 'taken';
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
        db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
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
  };
}

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
      return db.transaction().execute(async (trx) => {
        let live = trx.selectFrom('sessions').select('id').where('user_id', '=', userId).where('ended_at', 'is', null);
        if (exceptId !== undefined) live = live.where('id', '!=', exceptId);
        const ids = (await live.execute()).map((r) => r.id);
        if (ids.length > 0) {
          await trx
            .updateTable('sessions')
            .set({ ended_at: now, end_reason: reason })
            .where('id', 'in', ids)
            .where('ended_at', 'is', null)
            .execute();
        }
        return ids;
      });
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
      const result = await db
        .deleteFrom('sessions')
        .where((eb) => eb.or([eb('expires_at', '<=', now), eb('ended_at', 'is not', null)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export function createRevocationStore(db: Kysely<Database>): DurableRevocationStore {
  const revokedJti = compiledOnce(db, () => db.selectFrom('revoked_tokens').select('jti').where('jti', '=', '').compile());
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

/** The counter for `key` in the fixed window that contains `now`. */
export function windowOf(key: string, windowMs: number, now: number): { windowKey: string; resetAt: number } {
  const index = Math.floor(now / windowMs);
  return { windowKey: `${key}@${index}`, resetAt: (index + 1) * windowMs };
}

export function createCounterStore(db: Kysely<Database>): CounterStore {
  return {
    async hit(key, windowMs, now) {
      const { windowKey, resetAt } = windowOf(key, windowMs, now);
      // One atomic upsert: concurrent hits from any number of instances all count.
      const row = await db
        .insertInto('rate_counters')
        .values({ key: windowKey, count: 1, reset_at: resetAt })
        .onConflict((oc) => oc.column('key').doUpdateSet({ count: sql<number>`rate_counters.count + 1` }))
        .returning('count')
        .executeTakeFirstOrThrow();
      return { count: Number(row.count), resetAt };
    },
    async peek(key, windowMs, now) {
      const { windowKey, resetAt } = windowOf(key, windowMs, now);
      const row = await db.selectFrom('rate_counters').select('count').where('key', '=', windowKey).executeTakeFirst();
      return { count: row ? Number(row.count) : 0, resetAt };
    },
    async reset(key, windowMs, now) {
      await db.deleteFrom('rate_counters').where('key', '=', windowOf(key, windowMs, now).windowKey).execute();
    },
    async purge(now) {
      const result = await db.deleteFrom('rate_counters').where('reset_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

/** Every store over one Kysely database: what each engine file opens and then tunes. */
export function createSqlStores(db: Kysely<Database>, dialect: Dialect, generation: GenerationSource): EngineStores {
  return {
    generation,
    users: createUserStore(db, dialect),
    sessions: createSessionStore(db),
    durableRevocations: createRevocationStore(db),
    counters: createCounterStore(db),
    health: [{ name: 'database', critical: true, check: async () => void (await sql`select 1`.execute(db)) }],
    close: () => db.destroy(),
  };
}
