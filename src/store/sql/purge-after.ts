import { type RawBuilder, sql } from 'kysely';

/**
 * When a session may be purged: its expiry rounded up to the hour. Every rotation moves the
 * expiry, but seldom this, so on PostgreSQL a rotation changes no indexed column and updates
 * its row in place (a HOT update) rather than writing an entry in every index of the table. A
 * session is purged up to an hour after it expired, never before: expiry itself is checked on
 * every use, by `expires_at`.
 */
export const PURGE_GRANULE_MS = 3_600_000;

export const purgeAfter = (expiresAt: number): number => Math.ceil(expiresAt / PURGE_GRANULE_MS) * PURGE_GRANULE_MS;

/**
 * `purgeAfter` of the `expires_at` column, computed by the database (integer division on both
 * engines), for sessions stored without one.
 */
export const purgeAfterOfExpiry = (): RawBuilder<number> =>
  sql<number>`((expires_at + ${sql.lit(PURGE_GRANULE_MS - 1)}) / ${sql.lit(PURGE_GRANULE_MS)}) * ${sql.lit(PURGE_GRANULE_MS)}`;
