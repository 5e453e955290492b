/**
 * The guard, put on each route that needs it (`onRequest: services.guard(...)`), never on a
 * prefix. It runs before the body is read, so an unauthenticated caller costs no parsing.
 * A token comes as `Authorization: Bearer` or, from a browser, in the session cookies; an
 * unsafe request authenticated by cookie must also prove it comes from a trusted page (CSRF).
 */
import type { FastifyRequest } from 'fastify';
import { SESSION_ERRORS, type SessionService } from '../core/sessions.js';
import type { Principal } from '../core/types.js';
import { AppError, type ErrorCode } from '../errors.js';
import type { TokenType } from '../tokens/claims.js';
import { type CookieTransport, CSRF_HEADER } from './browser/cookies.js';
import type { TrustedOrigins } from './browser/origins.js';
import { BEARER_OR_COOKIE, type Precondition } from './endpoint.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface Requirement {
  types: readonly TokenType[];
  /** Needs an access token minted by a password login, not by a refresh. */
  fresh?: boolean;
  role?: string;
  /** Needs a token of a session opened with a second factor (aal 2). */
  aal2?: boolean;
}

// The scheme is case-insensitive (RFC 7235); what follows is checked by verification, not here.
const BEARER_HEADER = /^Bearer +(\S+) *$/i;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The token from `Authorization: Bearer …`, undefined when there is no such header. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined || header === '') return undefined;
  const match = BEARER_HEADER.exec(header);
  if (!match?.[1]) {
    throw new AppError('authorization_required', 'Send the token as "Authorization: Bearer <token>".');
  }
  return match[1];
}

/** The rules a principal must meet beyond a valid token: one implementation for API and pages. */
export function checkRequirement(principal: Principal, requirement: Requirement): void {
  if (requirement.fresh && principal.claims.fresh !== true) {
    throw new AppError('fresh_token_required', 'This needs an access token from a password login, not a refresh.');
  }
  if (requirement.aal2 && principal.claims.aal !== 2) {
    throw new AppError('mfa_required', 'This needs a sign-in with a second factor (aal 2).');
  }
  if (requirement.role && !principal.user.roles.includes(requirement.role)) {
    throw new AppError('forbidden', `This needs the ${requirement.role} role.`);
  }
}

export const csrfFailed = (message: string) => new AppError('csrf_failed', message);

/** A token the request carried in a cookie, with the CSRF token that must accompany it. */
export interface CookieCredential {
  token: string;
  csrfCookie: string | undefined;
}

export interface Authenticator {
  /** A precondition for routes that need a principal. */
  guard(requirement: Requirement): Precondition;
  /** The session cookie for one of `types`, if the request has one (access before refresh). */
  cookieCredential(request: FastifyRequest, types: readonly TokenType[]): CookieCredential | undefined;
  /**
   * For an unsafe request authenticated by cookie: the CSRF header (or a form's `csrf_token`)
   * must equal the CSRF cookie and be the token of this very session, and the request must
   * come from a trusted origin. Throws `csrf_failed`.
   */
  checkCsrf(request: FastifyRequest, credential: CookieCredential, sessionId: string, presented?: string): void;
}

export function createAuthenticator(
  sessions: SessionService,
  cookies: CookieTransport,
  origins: TrustedOrigins,
): Authenticator {
  const cookieCredential = (request: FastifyRequest, types: readonly TokenType[]) => {
    const jar = cookies.read(request);
    if (types.includes('access') && jar.access) return { token: jar.access, csrfCookie: jar.accessCsrf };
    if (types.includes('refresh') && jar.refresh) return { token: jar.refresh, csrfCookie: jar.refreshCsrf };
    return undefined;
  };

  const checkCsrf = (request: FastifyRequest, credential: CookieCredential, sessionId: string, presented?: string) => {
    if (SAFE_METHODS.has(request.method)) return;
    const header = request.headers[CSRF_HEADER];
    const token = presented ?? (typeof header === 'string' ? header : undefined);
    if (token === undefined || token === '') throw csrfFailed(`Send the CSRF token in the ${CSRF_HEADER} header.`);
    // Double submit: a forged request cannot read the cookie to copy it into the header.
    if (presented === undefined && token !== credential.csrfCookie) {
      throw csrfFailed('The CSRF header does not match the CSRF cookie.');
    }
    if (!cookies.csrfMatches(sessionId, token)) throw csrfFailed('The CSRF token is not the one of this session.');
    if (!origins.allowsRequest(request)) throw csrfFailed('The request does not come from a trusted origin.');
  };

  const guard = (requirement: Requirement): Precondition => {
    const errors: ErrorCode[] = ['authorization_required', 'csrf_failed', ...SESSION_ERRORS.authenticate];
    if (requirement.fresh) errors.push('fresh_token_required');
    if (requirement.role) errors.push('forbidden');
    if (requirement.aal2) errors.push('mfa_required');
    const hook = async (request: FastifyRequest) => {
      const bearer = bearerToken(request);
      const credential = bearer === undefined ? cookieCredential(request, requirement.types) : undefined;
      const token = bearer ?? credential?.token;
      if (token === undefined) throw new AppError('authorization_required', 'This endpoint needs a Bearer token.');
      const principal = await sessions.authenticate(token, requirement.types);
      if (credential) checkCsrf(request, credential, principal.session.id);
      checkRequirement(principal, requirement);
      request.principal = principal;
    };
    return { hook, errors, security: BEARER_OR_COOKIE };
  };

  return { guard, cookieCredential, checkCsrf };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('internal', 'Route is missing its authentication guard.');
  return request.principal;
}
