import type { Migration } from 'kysely';
import type { SqlEngine } from '../sql-engine.js';
import { engineStatements } from './engine-statements.js';

/**
 * Sessions and users found by id through hash indexes where the engine has them (see
 * `SqlEngine.idLookups`). On PostgreSQL the build holds writes to each table while it reads it:
 * about 15 s for 10,000,000 sessions (measured), during which logins and rotations wait. The
 * migrator runs each migration in a transaction, where `create index concurrently` cannot run;
 * an index already there under its name is kept, so a large database's can be built
 * concurrently beforehand (README, "PostgreSQL's memory").
 */
export const idLookups = (engine: SqlEngine): Migration => engineStatements(engine.idLookups);
