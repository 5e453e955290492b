/** PostgreSQL through a pg pool: the shared store for any number of instances. */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { StoreUnavailableError } from '../errors.js';
import { migrateToLatest } from './migrations.js';
import type { Database } from './schema.js';
import { compiledOnce, createSqlStores, type Dialect } from './sql-stores.js';
import { counterQuery, GenerationLog, logQuery, purgeGenerationLog } from './generation-log.js';
import type { EngineStores, Generation, GenerationSource } from './types.js';

const INT8_OID = 20;

const postgresDialect: Dialect = {
  isUniqueViolation: (error) => error instanceof Error && 'code' in error && error.code === '23505',
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
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A connection losing its server must not crash the process. pg emits 'error' on the pool for
  // idle clients, but on the client itself while Kysely holds it; the failing query rejects
  // either way, and that rejection is what the request answers (503).
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

export async function openPostgresStores(options: PostgresOptions): Promise<EngineStores> {
  const db = openPostgresDb(options);
  if (options.migrate) {
    try {
      await migrateToLatest(db);
    } catch (error) {
      await db.destroy();
      throw new StoreUnavailableError('PostgreSQL', error);
    }
  }
  return createSqlStores(db, postgresDialect, postgresGeneration(db));
}

/**
 * One query at a time, shared by every caller that came while it was not yet sent. A caller that
 * comes while a query is out waits for the next one: the query out may have been answered
 * before that caller's request arrived. Under load one round trip serves a whole batch.
 */
function postgresGeneration(db: Kysely<Database>): GenerationSource {
  const log = new GenerationLog();
  const counter = compiledOnce(db, () => counterQuery().compile(db));
  const rowsAbove = compiledOnce(db, () => logQuery(0, 0).compile(db));
  let next: Promise<Generation> | undefined;
  let out: Promise<unknown> = Promise.resolve();
  const read = async () => {
    const value = (await counter())[0]?.value;
    return log.record(value, log.needsRows(Number(value)) ? await rowsAbove(log.since, value) : []);
  };
  const send = () => {
    next = undefined;
    const answer = read();
    out = answer.catch(() => {});
    return answer;
  };
  return { observe: () => (next ??= out.then(send)), purge: () => purgeGenerationLog(db) };
}
