/**
 * A worker thread's own connection to the SQLite file, running the statements its parent sends
 * (sqlite-thread-dialect.ts). better-sqlite3 runs each statement to the end on the thread that
 * calls it, and a purge batch among millions of sessions takes ~9 ms with its commit and
 * checkpoint: on this thread, the server's event loop goes on answering meanwhile.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';
import { openSqliteConnection } from './sqlite-connection.js';
import type { StatementResult, ThreadReply, ThreadRequest } from './sqlite-thread-messages.js';

/** Only the purges' fixed statements come here; the bound keeps a mistake from growing it. */
const STATEMENT_CACHE_SIZE = 64;

const port = parentPort;
if (port === null) throw new Error('sqlite-thread runs as a worker thread');
const connection = openSqliteConnection((workerData as { file: string }).file);
const statements = new Map<string, SqliteDatabase.Statement>();

function run(sql: string, parameters: readonly unknown[]): StatementResult {
  let statement = statements.get(sql);
  if (statement === undefined) {
    statement = connection.prepare(sql);
    if (statements.size < STATEMENT_CACHE_SIZE) statements.set(sql, statement);
  }
  if (statement.reader) return { rows: statement.all(parameters) as Record<string, unknown>[] };
  const { changes, lastInsertRowid } = statement.run(parameters);
  return { rows: [], changes, lastInsertRowid: BigInt(lastInsertRowid) };
}

port.on('message', (request: ThreadRequest) => {
  if ('close' in request) {
    connection.close();
    port.close();
    return;
  }
  let reply: ThreadReply;
  try {
    reply = { id: request.id, ...run(request.sql, request.parameters) };
  } catch (error) {
    const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
    reply = { id: request.id, error: { message: error instanceof Error ? error.message : String(error), code } };
  }
  port.postMessage(reply);
});
