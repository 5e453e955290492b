import type { Config } from '../config.js';
import { openPostgresStores } from './postgres.js';
import { openSqliteStores } from './sqlite.js';
import type { Stores } from './types.js';

/** Opens the configured engine; `migrate` brings the schema up to date first. */
export function openStores(config: Config, options: { migrate: boolean }): Promise<Stores> {
  const target = config.database;
  return target.kind === 'sqlite'
    ? openSqliteStores(target.file, options)
    : openPostgresStores({ url: target.url, migrate: options.migrate, timeoutMs: config.storeTimeoutMs });
}
