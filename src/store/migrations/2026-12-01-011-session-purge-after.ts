import { type Migration, sql } from 'kysely';
import type { AnyDb } from './any-db.js';

/**
 * Sessions are found for purging by `purge_after` (their expiry rounded up to the hour, see
 * sql/purge-after.ts) instead of by `expires_at`, whose index every rotation rewrote. Existing
 * sessions get theirs here, in one statement: on PostgreSQL it writes every session row once
 * (1,000,000 sessions: 25 s, measured). Instances of the version before may still be running
 * while it applies: the purge checks the expiry too, and takes sessions they open (no
 * purge_after) once expired.
 */
export const sessionPurgeAfter: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('sessions').addColumn('purge_after', 'bigint').execute();
    // Frozen here with its granule, as released (an hour).
    await sql`update sessions set purge_after = ((expires_at + 3599999) / 3600000) * 3600000`.execute(db);
    await db.schema.createIndex('sessions_purge_after').on('sessions').column('purge_after').execute();
    await db.schema.dropIndex('sessions_expires_at').execute();
  },
  async down(db: AnyDb) {
    await db.schema.createIndex('sessions_expires_at').on('sessions').column('expires_at').execute();
    await db.schema.dropIndex('sessions_purge_after').execute();
    await db.schema.alterTable('sessions').dropColumn('purge_after').execute();
  },
};
