import type { Kysely } from 'kysely';

/**
 * The database as a migration sees it: as it was when the migration was written, not as today's
 * schema types say, so a frozen migration never has to change when the types do.
 */
// biome-ignore lint/suspicious/noExplicitAny: Kysely's own type for an untyped database
export type AnyDb = Kysely<any>;
