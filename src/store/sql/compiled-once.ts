import { type CompiledQuery, createQueryId, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { namedPrefix } from './named-statement.js';

/**
 * A query built and compiled once, then run with new parameters (in the order the builder
 * placed them). For the lookups every request makes: building and compiling through the query
 * builder cost more than running the query, profiled. Named (see named-statement.ts), so
 * PostgreSQL plans it once per connection too.
 */
export function compiledOnce<R>(
  db: Kysely<Database>,
  name: string,
  compile: () => CompiledQuery<R>,
): (...parameters: unknown[]) => Promise<R[]> {
  let compiled: CompiledQuery<R> | undefined;
  return async (...parameters) => {
    if (compiled === undefined) {
      const query = compile();
      compiled = { ...query, sql: namedPrefix(name) + query.sql };
    }
    if (parameters.length !== compiled.parameters.length) {
      throw new Error(`${name} takes ${compiled.parameters.length} parameters, given ${parameters.length}`);
    }
    return (await db.executeQuery<R>({ ...compiled, parameters, queryId: createQueryId() })).rows;
  };
}
