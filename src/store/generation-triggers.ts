/**
 * The parts of the invalidation triggers (see GenerationSource in types.ts) that both engines
 * share: which writes raise the generation, and the raise itself. Each engine writes the
 * triggers in its own dialect from these.
 */

/** Raises the one counter row; a trigger then logs whom the raise concerned. */
export const RAISE_GENERATION = 'update tessera_generation set value = value + 1 where id = 1';

/**
 * Every trigger: its table, its name, and the column naming whom a change concerns (the user
 * whose session or record changed, or the revoked token's id). Opening a session, rotating a
 * refresh token and counting rate limits have none: cached access checks stay valid across them.
 */
export const GENERATION_TRIGGERS = {
  sessionEnded: { table: 'sessions', name: 'tessera_session_ended', subject: 'user_id' },
  sessionDeleted: { table: 'sessions', name: 'tessera_session_deleted', subject: 'user_id' },
  userChanged: { table: 'users', name: 'tessera_user_changed', subject: 'id' },
  userDeleted: { table: 'users', name: 'tessera_user_deleted', subject: 'id' },
  tokenRevoked: { table: 'revoked_tokens', name: 'tessera_token_revoked', subject: 'jti' },
} as const;

/**
 * Added later (migration 008), so the trigger set of migration 003 stays as it was released: an
 * ended session is logged by its own id too, so that the revocation feed can name ended sessions,
 * not only their users.
 */
export const SESSION_ENDED_BY_ID = { table: 'sessions', name: 'tessera_session_ended_id', subject: 'id' } as const;

/**
 * Migration 010: a deleted session concerns cached tokens only if it had not ended (ending it
 * raised the generation already) and had not expired (every token of a session expires no later
 * than the session). Judged by the database's clock, which errs only towards raising.
 */
export const ENDED_SESSIONS_INDEX = 'create index sessions_ended_at on sessions (ended_at) where ended_at is not null';
