/** SQLite through better-sqlite3: the embedded default, one file in DATA_DIR. */
import type SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type SqlBool,
  type SqliteDatabase as SqliteDatabaseLike,
  SqliteDialect,
  SqliteDriver,
  type SqliteStatement,
  sql,
} from 'kysely';
import { LRUCache } from 'lru-cache';
import { counterQuery, GenerationLog, type LogRow, logQuery, purgeGenerationLog } from './generation-log.js';
import {
  ENDED_SESSIONS_INDEX,
  GENERATION_TRIGGERS,
  RAISE_GENERATION,
  SESSION_ENDED_BY_ID,
} from './generation-triggers.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database } from './schema.js';
import { createSqlStores } from './sql/stores.js';
import { columnName, type SqlEngine } from './sql-engine.js';
import { openSqliteConnection } from './sqlite-connection.js';
import { openSqliteThreadDb } from './sqlite-thread-dialect.js';
import type { EngineStores, Generation, GenerationSource } from './types.js';

/** SQLite triggers run per row: a raise and its log row for each changed row. */
const raise = (subject: string) =>
  `${RAISE_GENERATION}; insert into tessera_changes (generation, subject) select value, ${subject} from tessera_generation where id = 1;`;
const { sessionEnded, sessionDeleted, userChanged, userDeleted, tokenRevoked } = GENERATION_TRIGGERS;
/** The database's clock in epoch milliseconds (julianday works on every SQLite version). */
const SQLITE_NOW_MS = "cast((julianday('now') - 2440587.5) * 86400000 as integer)";

/**
 * A lone surrogate becomes U+FFFD, as it does when better-sqlite3 binds a string itself. JSON
 * would carry it as an escape that SQLite decodes differently, so a key counted in a batch
 * would not be the key a single statement reads back.
 */
const wellFormedRow = (row: readonly unknown[]) =>
  row.map((cell) => (typeof cell === 'string' ? cell.toWellFormed() : cell));

export const sqliteEngine: SqlEngine = {
  name: 'SQLite',
  isUniqueViolation: (error) =>
    error instanceof Error &&
    'code' in error &&
    (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'),
  // A file on this machine: there is no server to lose. A lock held past busy_timeout is a bug to see.
  isUnavailable: () => false,
  // One writer at a time: another process holding the lock past busy_timeout is the only conflict.
  isConflict: (error) => error instanceof Error && 'code' in error && error.code === 'SQLITE_BUSY',
  skipLockedRows: false,
  returningJoinedTables: false,
  purgeBatch: 100,
  purgeRest: 1,
  rowAddress: { column: sql`rowid`, among: (chosen) => sql<SqlBool>`rowid in ${chosen}` },
  rowsTable: (alias, types) => ({
    sql: sql`(select ${sql.raw(types.map((type, c) => `cast(value ->> ${c} as ${type}) as ${columnName(c)}`).join(', '))}
      from json_each(${sql.val('[]')})) as ${sql.raw(alias)}`,
    parameters: (rows) => [JSON.stringify(rows.map(wellFormedRow))],
  }),
  generationTriggers: {
    up: [
      `create trigger ${sessionEnded.name} after update of ended_at on ${sessionEnded.table}
         when old.ended_at is null and new.ended_at is not null begin ${raise(`new.${sessionEnded.subject}`)} end`,
      `create trigger ${sessionDeleted.name} after delete on ${sessionDeleted.table} begin ${raise(`old.${sessionDeleted.subject}`)} end`,
      `create trigger ${userChanged.name} after update on ${userChanged.table} begin ${raise(`old.${userChanged.subject}`)} end`,
      `create trigger ${userDeleted.name} after delete on ${userDeleted.table} begin ${raise(`old.${userDeleted.subject}`)} end`,
      `create trigger ${tokenRevoked.name} after insert on ${tokenRevoked.table} begin ${raise(`new.${tokenRevoked.subject}`)} end`,
    ],
    down: Object.values(GENERATION_TRIGGERS).map(({ name }) => `drop trigger if exists ${name}`),
  },
  sessionIdTrigger: {
    up: [
      `create trigger ${SESSION_ENDED_BY_ID.name} after update of ended_at on ${SESSION_ENDED_BY_ID.table}
         when old.ended_at is null and new.ended_at is not null begin ${raise(`new.${SESSION_ENDED_BY_ID.subject}`)} end`,
    ],
    down: [`drop trigger if exists ${SESSION_ENDED_BY_ID.name}`],
  },
  quietPurge: {
    up: [
      `drop trigger if exists ${sessionDeleted.name}`,
      `create trigger ${sessionDeleted.name} after delete on ${sessionDeleted.table}
         when old.ended_at is null and old.expires_at > ${SQLITE_NOW_MS}
         begin ${raise(`old.${sessionDeleted.subject}`)} end`,
      ENDED_SESSIONS_INDEX,
    ],
    down: [
      'drop index if exists sessions_ended_at',
      `drop trigger if exists ${sessionDeleted.name}`,
      `create trigger ${sessionDeleted.name} after delete on ${sessionDeleted.table} begin ${raise(`old.${sessionDeleted.subject}`)} end`,
    ],
  },
  // SQLite's only indexes are B-trees, and its primary keys are those already.
  idLookups: { up: [], down: [] },
};

export function openSqliteDb(file: string): Kysely<Database> {
  return kyselyOver(openSqliteConnection(file));
}

/**
 * Transactions take the write lock as they begin (`begin immediate`), waiting for it as every
 * write does (busy_timeout). Other connections commit beside this one (the purge thread's, a
 * CLI's), and a transaction begun plainly that read before one of their commits and wrote after
 * it would be refused at once (SQLITE_BUSY_SNAPSHOT) instead of waiting.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

function kyselyOver(connection: SqliteDatabase.Database): Kysely<Database> {
  const config = { database: withStatementCache(connection) };
  const dialect = new (class extends SqliteDialect {
    override createDriver(): Driver {
      return new ImmediateSqliteDriver(config);
    }
  })(config);
  return new Kysely<Database>({ dialect });
}

const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SQLite driver prepares every query afresh, which cost more than running it (a third
 * of a whoami request, profiled). Queries built by the same code have the same SQL text, so a
 * small cache keyed by that text makes each one a prepared statement. Statements run to
 * completion synchronously, so reusing one is safe. lru-cache, like the access cache: the
 * queries are a fixed set, so it evicts only if someone builds SQL from varying text.
 */
function withStatementCache(connection: SqliteDatabase.Database): SqliteDatabaseLike {
  const cache = new LRUCache<string, SqliteStatement>({ max: STATEMENT_CACHE_SIZE });
  return {
    close: () => connection.close(),
    prepare(sql) {
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = connection.prepare(sql);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

/**
 * One read per turn of the event loop, in its check phase: every request read from a socket in
 * that turn arrived before the read, so a write committed before any of them arrived is counted.
 * Reading per request cost a fifth of a whoami (a read transaction is several lock syscalls).
 */
function sqliteGeneration(
  connection: SqliteDatabase.Database,
  db: Kysely<Database>,
  purging: Kysely<Database>,
): GenerationSource {
  const log = new GenerationLog();
  let statements: { counter: SqliteDatabase.Statement; log: SqliteDatabase.Statement } | undefined;
  let pending: Promise<Generation> | undefined;
  const readNow = (resolve: (value: Generation) => void, reject: (error: unknown) => void) => {
    // Inside another caller's open transaction the read would see its uncommitted writes.
    if (connection.inTransaction) {
      setImmediate(readNow, resolve, reject);
      return;
    }
    pending = undefined;
    try {
      statements ??= {
        counter: connection.prepare(counterQuery().compile(db).sql).pluck(),
        log: connection.prepare(logQuery(0, 0).compile(db).sql),
      };
      const value = statements.counter.get();
      const rows = log.needsRows(Number(value)) ? (statements.log.all(log.since, value) as LogRow[]) : [];
      resolve(log.record(value, rows));
    } catch (error) {
      reject(error);
    }
  };
  const observe = () =>
    (pending ??= new Promise<Generation>((resolve, reject) => setImmediate(readNow, resolve, reject)));
  // One process owns the file: a read is cheap enough for every request, so writers never wait.
  return { observe, recent: observe, commitWaitMs: 0, purge: () => purgeGenerationLog(purging) };
}

export async function openSqliteStores(file: string, options: { migrate: boolean }): Promise<EngineStores> {
  const connection = openSqliteConnection(file);
  const db = kyselyOver(connection);
  if (options.migrate) await migrateToLatest(db, sqliteEngine);
  // The purges on a thread of their own: a batch among millions of rows holds the connection
  // that runs it for ~9 ms, and a backlog takes thousands of batches. On the server's connection
  // a backlog left whoami 1-4% of its rate; beside this thread it keeps about half or more
  // (npm run bench:sqlite-purge).
  const purging = openSqliteThreadDb(file);
  return createSqlStores(db, sqliteEngine, sqliteGeneration(connection, db, purging), purging);
}
