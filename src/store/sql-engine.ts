/**
 * What differs between the SQL engines behind the one Kysely query API. Each engine's file
 * (sqlite.ts, postgres.ts) implements this and nothing outside those files knows an engine's
 * error codes or SQL dialect.
 */
import { type Expression, type RawBuilder, type SqlBool, sql } from 'kysely';

export type ColumnType = 'text' | 'bigint';

/** `column1`, `column2`, …: the names a rows table gives its columns on every engine (as VALUES does). */
export const columnName = (index: number) => `column${index + 1}`;

/** `column1, column2, …` for `count` columns. */
export const valuesColumns = (count: number) =>
  sql.raw(Array.from({ length: count }, (_, i) => columnName(i)).join(', '));

/** The rows of a batched statement, carried as that statement's only parameters. */
export interface RowsTable {
  /** A table with columns column1, column2, …, whose placeholders are the rows' parameters. */
  readonly sql: RawBuilder<unknown>;
  /** The values of those placeholders for these rows, in order. */
  parameters(rows: readonly (readonly unknown[])[]): unknown[];
}

/** A migration written as statements in one engine's dialect, run in order each way. */
export interface DialectMigration {
  readonly up: readonly string[];
  readonly down: readonly string[];
}

export interface SqlEngine {
  /** For messages: 'SQLite' or 'PostgreSQL'. */
  readonly name: string;
  /** A write refused by a unique key. */
  isUniqueViolation(error: unknown): boolean;
  /** The server could not be reached or did not answer in time: a 503 to retry, not a bug. */
  isUnavailable(error: unknown): boolean;
  /** A transaction aborted by the engine for a conflict (a deadlock): running it again is right. */
  isConflict(error: unknown): boolean;
  /**
   * The rows a batched statement carries, as a table `alias` with columns column1, column2, …
   * of the given types, whose text is the same for any number of rows: the statement is built and
   * compiled once and prepared once (sql/compiled-once.ts). On PostgreSQL one array parameter
   * per column; on SQLite, which has no arrays, one JSON text.
   */
  rowsTable(alias: string, types: readonly ColumnType[]): RowsTable;
  /**
   * Rows a purge statement deletes (or fills in) at most: how long one holds the database. On
   * SQLite it holds the write lock, and every write of the server's waits for it: 80 ms for 1,000
   * sessions among 2,000,000 (each row's index entries lie on pages of their own), ~9 ms for 100
   * (measured). Reads go on meanwhile: the purges run on a thread and connection of their own
   * (sqlite-thread-dialect.ts). PostgreSQL locks only the rows a batch deletes.
   */
  readonly purgeBatch: number;
  /**
   * How long a purge rests after a full batch, as a share of the time the batch took. On SQLite
   * a write of the server's that finds the lock held sleeps in SQLite's busy handler (1, 2, 5,
   * 10 ms…), and batches back to back seldom leave it a gap: resting as long as each batch took,
   * refresh kept 0.60 of its rate through a backlog instead of 0.36 (p99 37 against 53 ms), whoami
   * 0.70 instead of 0.48, and the purge went half as fast (npm run bench:sqlite-purge). On
   * PostgreSQL a rest moved whoami's p99 by ~1 ms and doubled the purge's time: none.
   */
  readonly purgeRest: number;
  /**
   * Where a row lies (PostgreSQL's ctid, SQLite's rowid): a purge deletes the rows it chose by
   * their address, not by their key. Keys here are random, so finding 1,000 rows again by key
   * walks the primary key's index to 1,000 scattered pages; on PostgreSQL that was 93% of a
   * purge batch's time (41.9 ms against 2.9, measured). `column` is what the choosing select
   * selects; `among` is the delete's condition on it.
   */
  readonly rowAddress: {
    readonly column: RawBuilder<unknown>;
    among(chosen: Expression<unknown>): RawBuilder<SqlBool>;
  };
  /** Whether `select … for update skip locked` exists, for claiming rows without queueing. */
  readonly skipLockedRows: boolean;
  /** Whether an update's RETURNING may name the tables its FROM joins (PostgreSQL), or only the updated one (SQLite). */
  readonly returningJoinedTables: boolean;
  /**
   * The triggers of migration 2026-11-29-003 (see generation-triggers.ts), in this engine's
   * dialect. Frozen with that migration: a change to them is a new migration.
   */
  readonly generationTriggers: DialectMigration;
  /** Migration 008's trigger, in this engine's dialect: an ended session logged by its id. */
  readonly sessionIdTrigger: DialectMigration;
  /**
   * Migration 010, in this engine's dialect: deleting a session raises the generation only if
   * its tokens could still work (not ended, not expired by the database's clock), so purging
   * a million dead sessions invalidates nothing; and an index that finds ended sessions.
   */
  readonly quietPurge: DialectMigration;
  /**
   * Migration 012, in this engine's dialect: indexes that find a session and a user by id in
   * fewer pages than their primary keys' B-trees, for the lookup behind every request the access
   * cache does not answer (none on SQLite).
   */
  readonly idLookups: DialectMigration;
}
