import type { Migration } from 'kysely';
import type { SqlEngine } from '../sql-engine.js';
import { engineStatements } from './engine-statements.js';

/**
 * Purging dead sessions invalidates nothing: deleting a session raises the generation only while
 * its tokens could still work. Before this, purging a million expired sessions raised it a
 * million times on SQLite (and logged a change per user on PostgreSQL), emptying every
 * instance's access cache. Also an index for finding ended sessions in batches.
 */
export const quietPurge = (engine: SqlEngine): Migration => engineStatements(engine.quietPurge);
