/**
 * Versioned schema migrations, applied in name order on start and by `tessera migrate`.
 * Each one is frozen once released: change the schema by adding a new one.
 */
import { type Migration, Migrator } from 'kysely';
import type { SqlEngine } from '../sql-engine.js';
import { initial } from './2026-11-24-001-initial.js';
import { rateCounters } from './2026-11-24-002-rate-counters.js';
import { cacheGeneration } from './2026-11-29-003-cache-generation.js';
import { mail } from './2026-11-30-004-mail.js';
import { mfa } from './2026-11-30-005-mfa.js';
import { audit } from './2026-11-30-006-audit.js';
import { apiClients } from './2026-11-30-007-api-clients.js';
import { sessionFeed } from './2026-11-30-008-session-feed.js';
import { passkeys } from './2026-11-30-009-passkeys.js';
import { quietPurge } from './2026-11-30-010-quiet-purge.js';
import { sessionPurgeAfter } from './2026-12-01-011-session-purge-after.js';
import { idLookups } from './2026-12-02-012-id-lookups.js';
import type { AnyDb } from './any-db.js';

/** Every migration by name, for one engine (some carry statements in its dialect). */
export function migrations(engine: SqlEngine): Readonly<Record<string, Migration>> {
  return {
    '2026-11-24-001-initial': initial,
    '2026-11-24-002-rate-counters': rateCounters,
    '2026-11-29-003-cache-generation': cacheGeneration(engine),
    '2026-11-30-004-mail': mail,
    '2026-11-30-005-mfa': mfa,
    '2026-11-30-006-audit': audit,
    '2026-11-30-007-api-clients': apiClients,
    '2026-11-30-008-session-feed': sessionFeed(engine),
    '2026-11-30-009-passkeys': passkeys,
    '2026-11-30-010-quiet-purge': quietPurge(engine),
    '2026-12-01-011-session-purge-after': sessionPurgeAfter,
    '2026-12-02-012-id-lookups': idLookups(engine),
  };
}

/** The migrator of Tessera's schema: its migrations, and the tables that record and lock them. */
export function schemaMigrator(db: AnyDb, engine: SqlEngine): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...migrations(engine) }) },
    migrationTableName: 'tessera_migrations',
    migrationLockTableName: 'tessera_migrations_lock',
  });
}

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(db: AnyDb, engine: SqlEngine): Promise<string[]> {
  const { error, results } = await schemaMigrator(db, engine).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
