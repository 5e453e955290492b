import type { Migration } from 'kysely';
import type { AnyDb } from './any-db.js';

/**
 * Sessions are found for purging by `purge_after` (their expiry rounded up to the hour, see
 * sql/purge-after.ts) instead of by `expires_at`, whose index every rotation rewrote. Sessions
 * that existed before get theirs from the purge, a batch at a time (sql/sessions.ts), not here:
 * filling them in this migration's one statement held every session row for its whole run
 * (1,000,000 sessions: 25 s on PostgreSQL, measured), and instances still serving could not
 * rotate meanwhile. Instances of the version before may keep running after it applies: the
 * purge checks the expiry too, and fills in the sessions they open (no purge_after).
 */
export const sessionPurgeAfter: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('sessions').addColumn('purge_after', 'bigint').execute();
    await db.schema.createIndex('sessions_purge_after').on('sessions').column('purge_after').execute();
    await db.schema.dropIndex('sessions_expires_at').execute();
  },
  async down(db: AnyDb) {
    await db.schema.createIndex('sessions_expires_at').on('sessions').column('expires_at').execute();
    await db.schema.dropIndex('sessions_purge_after').execute();
    await db.schema.alterTable('sessions').dropColumn('purge_after').execute();
  },
};
