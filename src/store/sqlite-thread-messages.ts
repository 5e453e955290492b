/** What the server and its SQLite thread (sqlite-thread.ts) say to each other. */

/** A statement to run, or `close`: the thread closes its connection and ends. */
export type ThreadRequest = { id: number; sql: string; parameters: readonly unknown[] } | { close: true };

export interface StatementResult {
  rows: Record<string, unknown>[];
  /** For a statement that returns no rows: what better-sqlite3's `run` reports. */
  changes?: number;
  lastInsertRowid?: bigint;
}

export type ThreadReply =
  | ({ id: number; error?: undefined } & StatementResult)
  | { id: number; error: { message: string; code: string | undefined } };
