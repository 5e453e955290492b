/** PostgreSQL through a pg pool: the shared store for any number of instances. */
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient, type SqlBool, sql } from 'kysely';
import pg from 'pg';
import { StoreUnavailableError } from '../errors.js';
import { counterQuery, GenerationLog, logQuery, purgeGenerationLog } from './generation-log.js';
import {
  ENDED_SESSIONS_INDEX,
  GENERATION_TRIGGERS,
  RAISE_GENERATION,
  SESSION_ENDED_BY_ID,
} from './generation-triggers.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database } from './schema.js';
import { sharedGeneration } from './shared-generation.js';
import { compiledOnce } from './sql/compiled-once.js';
import { statementName } from './sql/named-statement.js';
import { createSqlStores } from './sql/stores.js';
import { type SqlEngine, valuesColumns } from './sql-engine.js';
import type { EngineStores, GenerationSource } from './types.js';

const INT8_OID = 20;

/** PostgreSQL's own codes for a server going away (node:net's are in network-errors.ts). */
const UNAVAILABLE_CODES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
]);
/** pg reports pool and query timeouts, and a lost connection, only in the message. */
const UNAVAILABLE_MESSAGE =
  /timeout exceeded|Connection terminated|connection timeout|Query read timeout|Client has encountered a connection error/i;

// PostgreSQL fires row triggers when their statement has finished, so a statement holds its own
// row locks before it waits for the counter's: writers queue on the counter, never deadlock on
// it, as long as a transaction raises it in its last writing statement (every store method does).
// The trigger's argument names the column that says whom the change concerns.
const { sessionEnded, sessionDeleted, userChanged, userDeleted, tokenRevoked } = GENERATION_TRIGGERS;
const perRow = (trigger: { table: string; name: string; subject: string }, event: string, when = '') =>
  `create trigger ${trigger.name} after ${event} on ${trigger.table} for each row ${when}
     execute function tessera_raise_generation('${trigger.subject}')`;

/**
 * The statement trigger's function for deleted sessions (migration 010 replaces it): raises once
 * for the rows of `gone` that `filter` keeps, if any.
 */
const deletedSessionsFunction = (filter: string) =>
  `create or replace function tessera_raise_generation_for_deleted() returns trigger language plpgsql as $$
     declare raised bigint;
     begin
       if exists (select 1 from gone ${filter}) then
         ${RAISE_GENERATION} returning value into raised;
         insert into tessera_changes (generation, subject)
           select distinct raised, to_jsonb(gone) ->> tg_argv[0] from gone ${filter};
       end if;
       return null;
     end $$`;

export const postgresEngine: SqlEngine = {
  name: 'PostgreSQL',
  isUniqueViolation: (error) => error instanceof Error && 'code' in error && error.code === '23505',
  // deadlock_detected, serialization_failure: PostgreSQL aborted one side; the other committed.
  isConflict: (error) =>
    error instanceof Error && 'code' in error && (error.code === '40P01' || error.code === '40001'),
  skipLockedRows: true,
  returningJoinedTables: true,
  purgeBatch: 1000,
  purgeRest: 0,
  // `= any(array(…))` is what PostgreSQL turns into a TID scan; `ctid in (select …)` is planned
  // as a join, which may read the whole table.
  rowAddress: { column: sql`ctid`, among: (chosen) => sql<SqlBool>`ctid = any(array${chosen})` },
  rowsTable: (alias, types) => ({
    sql: sql`unnest(${sql.join(types.map((type) => sql`cast(${sql.val([])} as ${sql.raw(type)}[])`))}) as ${sql.raw(alias)}(${valuesColumns(types.length)})`,
    parameters: (rows) => types.map((_, c) => rows.map((row) => row[c])),
  }),
  isUnavailable: (error) =>
    error instanceof Error &&
    (UNAVAILABLE_CODES.has('code' in error ? String(error.code) : '') || UNAVAILABLE_MESSAGE.test(error.message)),
  generationTriggers: {
    up: [
      `create function tessera_raise_generation() returns trigger language plpgsql as $$
         declare raised bigint;
         begin
           ${RAISE_GENERATION} returning value into raised;
           insert into tessera_changes (generation, subject)
             values (raised, coalesce(to_jsonb(new), to_jsonb(old)) ->> tg_argv[0]);
           return null;
         end $$`,
      // Purging deletes many sessions in one statement: raise once, and only if it deleted any.
      `create function tessera_raise_generation_for_deleted() returns trigger language plpgsql as $$
         declare raised bigint;
         begin
           if exists (select 1 from gone) then
             ${RAISE_GENERATION} returning value into raised;
             insert into tessera_changes (generation, subject)
               select distinct raised, to_jsonb(gone) ->> tg_argv[0] from gone;
           end if;
           return null;
         end $$`,
      perRow(sessionEnded, 'update of ended_at', 'when (old.ended_at is null and new.ended_at is not null)'),
      `create trigger ${sessionDeleted.name} after delete on ${sessionDeleted.table} referencing old table as gone
         for each statement execute function tessera_raise_generation_for_deleted('${sessionDeleted.subject}')`,
      perRow(userChanged, 'update'),
      perRow(userDeleted, 'delete'),
      perRow(tokenRevoked, 'insert'),
    ],
    down: [
      ...Object.values(GENERATION_TRIGGERS).map(({ name, table }) => `drop trigger if exists ${name} on ${table}`),
      'drop function if exists tessera_raise_generation()',
      'drop function if exists tessera_raise_generation_for_deleted()',
    ],
  },
  sessionIdTrigger: {
    up: [perRow(SESSION_ENDED_BY_ID, 'update of ended_at', 'when (old.ended_at is null and new.ended_at is not null)')],
    down: [`drop trigger if exists ${SESSION_ENDED_BY_ID.name} on ${SESSION_ENDED_BY_ID.table}`],
  },
  quietPurge: {
    up: [
      deletedSessionsFunction('where ended_at is null and expires_at > extract(epoch from clock_timestamp()) * 1000'),
      ENDED_SESSIONS_INDEX,
    ],
    down: ['drop index if exists sessions_ended_at', deletedSessionsFunction('')],
  },
  // A hash index finds a key in one or two pages whatever the table's size, where the primary
  // key's B-tree visits four at 10,000,000 sessions (three at 1,000,000 users). Those pages lie
  // spread over gigabytes, and visiting them is what made a cache miss cost PostgreSQL more on a
  // large database (docs/BENCHMARKS.md, sessions 20 and 23). The primary keys stay: they keep ids
  // unique. A rotation writes neither index: it changes no indexed column.
  idLookups: {
    up: [
      // "if not exists": a large database's may be built beforehand, concurrently (README).
      'create index if not exists sessions_id_hash on sessions using hash (id)',
      'create index if not exists users_id_hash on users using hash (id)',
    ],
    down: ['drop index if exists users_id_hash', 'drop index if exists sessions_id_hash'],
  },
};

export interface PostgresOptions {
  url: string;
  migrate: boolean;
  /** Bounds how long a request waits for a connection or a query before answering 503. */
  timeoutMs: number;
  poolSize?: number;
}

export function openPostgresDb(options: PostgresOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.timeoutMs,
    query_timeout: options.timeoutMs,
    // Times are epoch milliseconds in bigint columns; they fit a double exactly.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A connection losing its server must not crash the process. pg emits 'error' on the pool for
  // idle clients, but on the client itself while Kysely holds it; the failing query rejects
  // either way, and that rejection is what the request answers (503).
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingNamed(pool) }) });
}

/**
 * Runs a statement tagged with a name (sql/named-statement.ts) as a prepared statement of that
 * name: node-postgres prepares it on a connection's first use and binds it after. One wrapper per
 * pooled client, so Kysely, which keys its connections by client, keeps reusing them.
 */
function preparingNamed(pool: pg.Pool): PostgresPool {
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = (client: pg.PoolClient): PostgresPoolClient => ({
    // Kysely passes a cursor, not text, only to stream, which no store does.
    query: ((text: unknown, values?: readonly unknown[]) => {
      if (typeof text !== 'string') return client.query(text as pg.Submittable);
      const name = statementName(text);
      // One literal either way: `{ ...query, name }` would give every query's config a hidden
      // class of its own (V8, Node 20), 0.6 µs a query against 0.02.
      const query = { text, values: [...(values ?? [])], name };
      return client.query(query);
    }) as unknown as PostgresPoolClient['query'],
    release: (destroy) => client.release(destroy),
  });
  return {
    async connect() {
      const client = await pool.connect();
      let known = wrapped.get(client);
      if (known === undefined) {
        known = wrap(client);
        wrapped.set(client, known);
      }
      return known;
    },
    end: () => pool.end(),
  };
}

export async function openPostgresStores(options: PostgresOptions): Promise<EngineStores> {
  const db = openPostgresDb(options);
  if (options.migrate) {
    try {
      await migrateToLatest(db, postgresEngine);
    } catch (error) {
      await db.destroy();
      throw new StoreUnavailableError('PostgreSQL', error);
    }
  }
  return createSqlStores(db, postgresEngine, postgresGeneration(db));
}

/** The counter, and the log rows above the last read when it moved, in one or two round trips. */
function postgresGeneration(db: Kysely<Database>): GenerationSource {
  const log = new GenerationLog();
  const counter = compiledOnce(db, 'generation', () => counterQuery().compile(db));
  const rowsAbove = compiledOnce(db, 'generation_log', () => logQuery(0, 0).compile(db));
  return sharedGeneration({
    read: async () => {
      const value = (await counter())[0]?.value;
      return log.record(value, log.needsRows(Number(value)) ? await rowsAbove(log.since, value) : []);
    },
    purge: () => purgeGenerationLog(db),
  });
}
