import type { Migration } from 'kysely';
import type { SqlEngine } from '../sql-engine.js';
import { engineStatements } from './engine-statements.js';

/** An ended session is logged by its own id as well as its user's: the revocation feed names it. */
export const sessionFeed = (engine: SqlEngine): Migration => engineStatements(engine.sessionIdTrigger);
