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
   * Rows a purge statement deletes (or fills in) at most. SQLite runs each statement on the
   * event loop's thread, where it holds every request for as long as it runs: 80 ms for 1,000
   * sessions among 2,000,000 (each row's index entries lie on pages of their own), 8 ms for 100
   * (measured). whoami on SQLite during the server's purge of a backlog answered 16 requests a
   * second (p99 6.8 s) with batches of 1,000, and ~390 (p99 ~180 ms) with 100. PostgreSQL runs
   * the statement in a process of its own.
   */
  readonly purgeBatch: number;
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
  readonly generationTriggers: { readonly up: readonly string[]; readonly down: readonly string[] };
  /** Migration 008's trigger, in this engine's dialect: an ended session logged by its id. */
  readonly sessionIdTrigger: { readonly up: readonly string[]; readonly down: readonly string[] };
  /**
   * Migration 010, in this engine's dialect: deleting a session raises the generation only if
   * its tokens could still work (not ended, not expired by the database's clock), so purging
   * a million dead sessions invalidates nothing; and an index that finds ended sessions.
   */
  readonly quietPurge: { readonly up: readonly string[]; readonly down: readonly string[] };
}
