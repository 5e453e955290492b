import { type CompiledQuery, createQueryId, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

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
