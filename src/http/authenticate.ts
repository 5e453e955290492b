/**
 * The Bearer guard, put on each route that needs it (`onRequest: guard(...)`), never on a prefix.
 * It runs before the body is read, so an unauthenticated caller costs no parsing.
 */
import type { FastifyRequest } from 'fastify';
import { SESSION_ERRORS, type SessionService } from '../core/sessions.js';
import type { Principal } from '../core/types.js';
import { AppError, type ErrorCode } from '../errors.js';
import type { TokenType } from '../tokens/claims.js';
import { BEARER, type Precondition } from './endpoint.js';

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

export function requireToken(request: FastifyRequest): string {
  const token = bearerToken(request);
  if (token === undefined) throw new AppError('authorization_required', 'This endpoint needs a Bearer token.');
  return token;
}

export function guard(sessions: SessionService, requirement: Requirement): Precondition {
  const errors: ErrorCode[] = ['authorization_required', ...SESSION_ERRORS.authenticate];
  if (requirement.fresh) errors.push('fresh_token_required');
  if (requirement.role) errors.push('forbidden');
  if (requirement.aal2) errors.push('mfa_required');
  const hook = async (request: FastifyRequest) => {
    const principal = await sessions.authenticate(requireToken(request), requirement.types);
    if (requirement.fresh && principal.claims.fresh !== true) {
      throw new AppError('fresh_token_required', 'This needs an access token from a password login, not a refresh.');
    }
    if (requirement.aal2 && principal.claims.aal !== 2) {
      throw new AppError('mfa_required', 'This needs a sign-in with a second factor (aal 2).');
    }
    if (requirement.role && !principal.user.roles.includes(requirement.role)) {
      throw new AppError('forbidden', `This needs the ${requirement.role} role.`);
    }
    request.principal = principal;
  };
  return { hook, errors, security: BEARER };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('internal', 'Route is missing its authentication guard.');
  return request.principal;
}
