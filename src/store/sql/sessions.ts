import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { RotatedSession, Rotation, SessionStore, SessionWithUser } from '../types.js';
import { compiledOnce } from './compiled-once.js';
import { purgeAfter, purgeAfterOfExpiry } from './purge-after.js';
import { purgeDue, purgeInBatches } from './purge-in-batches.js';
import { MINTING_COLUMNS, type MintingRow, parseStrings, toMintingSession, toSession, toUser } from './rows.js';
import { inStatements, ROWS_PER_STATEMENT } from './statement-limits.js';

/**
 * Selected by name, not `s.*`: PostgreSQL refuses to run a prepared statement whose result
 * columns changed since it was prepared, which a later migration adding a column would do to
 * running instances.
 */
const SESSION_COLUMNS = [
  'id',
  'user_id',
  'refresh_jti',
  'refresh_issued_at',
  'previous_jti',
  'rotated_at',
  'created_at',
  'last_used_at',
  'expires_at',
  'ended_at',
  'end_reason',
  'user_agent',
  'ip',
  'aal',
  'amr',
] as const;

/** A session joined with its user: what every authenticated request needs, in one lookup. */
const withUser = (db: Kysely<Database>) =>
  db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select(SESSION_COLUMNS.map((column) => `s.${column}` as const))
    .select([
      'u.username',
      'u.email',
      'u.password_hash',
      'u.roles',
      'u.disabled',
      'u.created_at as user_created_at',
      'u.updated_at as user_updated_at',
      'u.email_verified_at',
    ]);

type WithUserRow = Awaited<ReturnType<ReturnType<typeof withUser>['execute']>>[number];

function toSessionWithUser(row: WithUserRow): SessionWithUser {
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
}

/**
 * Many sessions with their users in one statement (a round trip for all), each answer in the
 * place of its id; undefined where there is none.
 */
export function batchedSessionLookup(
  db: Kysely<Database>,
  engine: SqlEngine,
): (ids: readonly string[]) => Promise<(SessionWithUser | undefined)[]> {
  const wanted = engine.rowsTable('wanted', ['text']);
  const lookup = compiledOnce(db, 'sessions_with_users', () =>
    withUser(db).where('s.id', 'in', sql<string>`(select column1 from ${wanted.sql})`).compile(),
  );
  return async (ids) => {
    const found = await inStatements([...new Set(ids)], (chunk) =>
      lookup(...wanted.parameters(chunk.map((id) => [id]))),
    );
    const rows = new Map(found.map((row) => [row.id, row]));
    return ids.map((id) => {
      const row = rows.get(id);
      return row && toSessionWithUser(row);
    });
  };
}

export function createSessionStore(db: Kysely<Database>, engine: SqlEngine): SessionStore {
  const sessionWithUser = compiledOnce(db, 'session_with_user', () => withUser(db).where('s.id', '=', '').compile());
  // Made on first use: a store is made for every transaction, and none of them rotates (refresh
  // rotates through the stores' batched rotation).
  let rotateOne: ReturnType<typeof batchedRotation> | undefined;
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
          purge_after: purgeAfter(s.expiresAt),
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
      return row && toSessionWithUser(row);
    },
    async rotate(rotation, now) {
      rotateOne ??= batchedRotation(db, engine);
      const [rotated] = await rotateOne([{ rotation, now }]);
      return rotated;
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
      // Sessions stored without a purge time get theirs first, a batch at a time: those from
      // before migration 011, and those an instance of the version before it opens during a
      // rolling deploy. One statement for a million of them held every row for 25 s.
      await purgeInBatches(engine, async () => {
        let unfilled = db.selectFrom('sessions').select('id').where('purge_after', 'is', null).limit(engine.purgeBatch);
        // Rows a rotation holds are left for the next batch or purge: a fill that never waits
        // on a lock cannot deadlock with rotations locking their rows in another order.
        if (engine.skipLockedRows) unfilled = unfilled.forUpdate().skipLocked();
        const filled = await db
          .updateTable('sessions')
          .set({ purge_after: purgeAfterOfExpiry() })
          .where('id', 'in', unfilled)
          .executeTakeFirst();
        return Number(filled.numUpdatedRows);
      });
      // Found by index: expired ones (by purge_after), then ended ones (a partial index). The
      // expiry is checked as well: such an older instance also rotates sessions without moving
      // their purge time. Each batch walks its index in order and stops at the batch's end:
      // left to choose, PostgreSQL with statistics from before a wave of expiries gathered every
      // due row into a bitmap for each batch (1,000,000 sessions purged in 45 s, measured).
      const expired = await purgeDue(db, engine, 'sessions', 'purge_after', (eb) =>
        eb.and([eb('purge_after', '<=', now), eb('expires_at', '<=', now)]),
      );
      return expired + (await purgeDue(db, engine, 'sessions', 'ended_at', (eb) => eb('ended_at', 'is not', null)));
    },
  };
}

type RotatedRow = MintingRow & { roles: string };

export interface SessionRotation {
  rotation: Rotation;
  now: number;
}

/**
 * Rotations as compare-and-sets, many in one statement: one round trip (and, outside a
 * transaction, one commit) for all. Each moves its session to `toJti` only if `fromJti` is still
 * current, the session has not ended nor rotated too recently, and it belongs to the token's
 * user, who exists and is not disabled: every check a refresh with the current token needs, so
 * that refresh is one statement. It answers with the rotated session's token fields and its
 * user's roles, no more: returning every session column cost 2-6% more CPU a refresh on
 * PostgreSQL (two side-by-side runs of 6 rounds). On PostgreSQL the user is joined: two
 * subqueries a row cost it a third more CPU on the statement (measured, batches of 15). Rows are
 * locked in the order given, so callers pass them in key order. Two rotations of one session go
 * in successive statements, so they apply one after the other and at most one of them succeeds,
 * as if made one by one.
 */
export function batchedRotation(
  db: Kysely<Database>,
  engine: SqlEngine,
): (rotations: readonly SessionRotation[]) => Promise<(RotatedSession | undefined)[]> {
  const v = engine.rowsTable('v', ['text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint']);
  // PostgreSQL joins the user and returns its roles from the join. SQLite's RETURNING cannot name
  // a joined table, and its planner took the join form at 5 ms a row (measured), so there the user
  // is looked up per row by subqueries.
  const user = engine.returningJoinedTables
    ? { join: sql`join users on users.id = v.column2 and users.disabled = 0`, exists: sql``, roles: sql`users.roles` }
    : {
        join: sql``,
        exists: sql`and exists (select 1 from users where users.id = sessions.user_id and users.disabled = 0)`,
        roles: sql`(select roles from users where users.id = sessions.user_id)`,
      };
  const rotate = compiledOnce(db, 'rotate_sessions', () =>
    sql<RotatedRow>`update sessions set
        previous_jti = v.column3, refresh_jti = v.column4, refresh_issued_at = v.column5,
        rotated_at = v.column6, last_used_at = v.column6, expires_at = v.column7, purge_after = v.column9
      from ${v.sql} ${user.join}
      where sessions.id = v.column1 and sessions.user_id = v.column2 and sessions.refresh_jti = v.column3
        and sessions.ended_at is null
        and (sessions.rotated_at is null or sessions.rotated_at <= v.column8)
        ${user.exists}
      returning ${sql.join(MINTING_COLUMNS.map((column) => sql.ref(`sessions.${column}`)))}, ${user.roles} as roles`.compile(
      db,
    ),
  );
  return async (rotations) => {
    const results: (RotatedSession | undefined)[] = rotations.map(() => undefined);
    let pending = rotations.map((_, i) => i);
    while (pending.length > 0) {
      const seen = new Set<string>();
      const now: number[] = [];
      const later: number[] = [];
      for (const i of pending) {
        const { sessionId } = (rotations[i] as SessionRotation).rotation;
        if (seen.has(sessionId) || now.length === ROWS_PER_STATEMENT) later.push(i);
        else {
          seen.add(sessionId);
          now.push(i);
        }
      }
      const rows = await rotate(
        ...v.parameters(
          now.map((i) => {
            const { rotation: r, now: at } = rotations[i] as SessionRotation;
            const { sessionId, userId, fromJti, toJti, issuedAt, expiresAt, lastRotationBy } = r;
            return [sessionId, userId, fromJti, toJti, issuedAt, at, expiresAt, lastRotationBy, purgeAfter(expiresAt)];
          }),
        ),
      );
      const rotated = new Map(rows.map((row) => [row.id, row]));
      for (const i of now) {
        const row = rotated.get((rotations[i] as SessionRotation).rotation.sessionId);
        results[i] = row && { session: toMintingSession(row), roles: parseStrings(row.roles) };
      }
      pending = later;
    }
    return results;
  };
}
