/**
 * Kysely over a connection of its own on a worker thread (sqlite-thread.ts), for the work that
 * may take long and need not be answered soon: the purges. Kysely's own SQLite driver calls
 * better-sqlite3 on the event loop's thread, which stops everything else while a statement runs.
 */
import { Worker } from 'node:worker_threads';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import type { Database } from './schema.js';
import type { ThreadReply, ThreadRequest } from './sqlite-thread-messages.js';

const FROM_SOURCES = import.meta.url.endsWith('.ts');
const THREAD_MODULE = new URL(`./sqlite-thread${FROM_SOURCES ? '.ts' : '.js'}`, import.meta.url);

function startThread(file: string): Worker {
  if (!FROM_SOURCES) return new Worker(THREAD_MODULE, { workerData: { file } });
  // The tests run the TypeScript sources through tsx, whose loader a worker thread does not
  // inherit on Node 20 (not even given --import tsx): the thread registers it first.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const thread = JSON.stringify(THREAD_MODULE.href);
  return new Worker(`import(${tsx}).then((tsx) => { tsx.register(); return import(${thread}); });`, {
    eval: true,
    workerData: { file },
  });
}

/** An error from the thread, with better-sqlite3's `code` (SQLITE_BUSY, say) for SqlEngine to judge. */
class ThreadStatementError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'SqliteError';
  }
}

class ThreadConnection implements DatabaseConnection {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (reply: ThreadReply) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  /** Why the thread is gone (it failed, or was closed): every statement from then on fails with it. */
  ended: Error | undefined;

  constructor(file: string) {
    this.worker = startThread(file);
    // Kept from holding the process open while idle; held open while a statement is out, so a
    // command that awaits a purge (tessera purge) sees it end.
    this.worker.unref();
    this.worker.on('message', (reply: ThreadReply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) this.worker.unref();
      waiter?.resolve(reply);
    });
    const end = (error: Error) => {
      this.ended ??= error;
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
    };
    this.worker.on('error', end);
    this.worker.on('exit', (code) => end(new Error(`the SQLite thread ended (exit code ${code})`)));
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.ended) throw this.ended;
    const id = this.nextId++;
    const reply = await new Promise<ThreadReply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      const request: ThreadRequest = { id, sql: query.sql, parameters: query.parameters };
      this.worker.postMessage(request);
    });
    if (reply.error) throw new ThreadStatementError(reply.error.message, reply.error.code);
    return {
      rows: reply.rows as R[],
      numAffectedRows: reply.changes === undefined ? undefined : BigInt(reply.changes),
      insertId: reply.lastInsertRowid,
    };
  }

  // biome-ignore lint/correctness/useYield: no query here streams; Kysely's interface asks for it
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the SQLite thread does not stream');
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = new Error('the SQLite thread was closed');
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    const request: ThreadRequest = { close: true };
    this.worker.ref();
    this.worker.postMessage(request);
    await exited;
  }
}

/**
 * One connection, as SQLite has: a transaction holds it until it ends. Its thread ends after
 * `idleMs` unused (it holds ~8 MB, measured, and a purge comes every PURGE_INTERVAL); the next
 * statement starts another.
 */
class ThreadDriver implements Driver {
  private connection: ThreadConnection | undefined;
  private held: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly idleMs: number,
  ) {}

  async init(): Promise<void> {
    this.connection = new ThreadConnection(this.file);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.held;
    let release = () => {};
    this.held = new Promise<void>((resolve) => (release = resolve));
    await previous;
    clearTimeout(this.idle);
    this.release = release;
    if (this.connection === undefined) throw new Error('the SQLite thread is closed');
    // Closed while idle, or failed: a new thread, which may open the file where the last could not.
    if (this.connection.ended) this.connection = new ThreadConnection(this.file);
    return this.connection;
  }

  async releaseConnection(): Promise<void> {
    const connection = this.connection;
    this.idle = setTimeout(() => void connection?.close(), this.idleMs).unref();
    this.release?.();
  }

  /** `begin immediate`, as on the server's connection (sqlite.ts, ImmediateSqliteDriver). */
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async destroy(): Promise<void> {
    clearTimeout(this.idle);
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }
}

/** Kysely over a connection to `file` on a worker thread of its own, ended after `idleMs` unused. */
export function openSqliteThreadDb(file: string, idleMs = 5000): Kysely<Database> {
  const dialect: Dialect = {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new ThreadDriver(file, idleMs),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
  return new Kysely<Database>({ dialect });
}
