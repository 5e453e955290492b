/**
 * The core's own vocabulary, shared by its services and by the HTTP layer. It imports only the
 * records below it (tokens, stores), never a service, so no module needs a service to name a type.
 */
import type { SessionRecord, UserRecord } from '../store/types.js';
import type { TokenClaims } from '../tokens/claims.js';

export interface ClientInfo {
  userAgent: string | null;
  ip: string | null;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Access token lifetime in seconds. */
  expiresIn: number;
  /** The session both tokens belong to. */
  sessionId: string;
  /** Seconds until the refresh token (and so the session) expires. */
  refreshExpiresIn: number;
}

/**
 * Who is calling: the verified claims with the session and user they name, as stored now.
 * Shared between requests through the access cache, so never changed once made.
 */
export interface Principal {
  readonly claims: Readonly<TokenClaims>;
  readonly session: Readonly<SessionRecord>;
  readonly user: Readonly<UserRecord>;
}

/** How strongly a login proved who it is (NIST SP 800-63B levels; RFC 8176 method names). */
export interface Assurance {
  aal: 1 | 2;
  amr: readonly string[];
}

export const PASSWORD_ONLY: Assurance = { aal: 1, amr: ['pwd'] };

export type LogoutScope = 'local' | 'others' | 'global';

export type EndReason =
  | 'logout'
  | 'revoked'
  | 'refresh_reuse'
  | 'password_changed'
  | 'password_reset'
  | 'disabled'
  | 'ended_by_user'
  | 'mfa_removed';
