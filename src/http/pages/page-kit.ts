/**
 * What every page handler shares: the strings and layout, the cookie session as pages see it,
 * the same-origin check on anonymous forms, the CSRF check on signed-in ones, and `return_to`.
 * The rules themselves (tokens, sessions, CSRF binding, requirements) are the API's, called here.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ClientInfo, Principal } from '../../core/types.js';
import { AppError } from '../../errors.js';
import type { TokenType } from '../../tokens/claims.js';
import { type CookieCredential, checkRequirement, csrfFailed, type Requirement } from '../authenticate.js';
import { toAppError } from '../error-handler.js';
import { clientInfo, type Services } from '../services.js';
import { type PageContent, pageCsp, sendPage } from './html.js';
import type { PageStrings } from './strings.js';

export interface PageSession {
  principal: Principal;
  credential: CookieCredential;
  /** For the hidden `csrf_token` of this session's forms. */
  csrfToken: string;
  /** Where the request came from, for the audit log. */
  client: ClientInfo;
}

const SESSION_GONE = new Set(['invalid_token', 'token_expired', 'token_revoked']);

/** Whether an error only says the cookie's session is over (the page then signs in afresh). */
export const sessionGone = (error: unknown): boolean => error instanceof AppError && SESSION_GONE.has(error.code);

export interface PageKit {
  strings: PageStrings;
  render(reply: FastifyReply, page: PageContent): FastifyReply;
  /** The signed-in user's header for a page. */
  header(session: PageSession | undefined): PageContent['signedIn'];
  /** onRequest hook: anonymous forms (sign in, register...) are taken from our own pages only (login CSRF). */
  fromOurPages(request: FastifyRequest): Promise<void>;
  /** The session the access cookie (or, asked for, the refresh cookie) names, when it is live. */
  session(request: FastifyRequest, types?: readonly TokenType[]): Promise<PageSession | undefined>;
  /** For a signed-in form: the session, its CSRF token and origin checked (throws csrf_failed). */
  postedSession(request: FastifyRequest, formToken: unknown): Promise<PageSession | undefined>;
  /** The requirement's failure as an AppError, or undefined when the principal meets it. */
  unmet(principal: Principal, requirement: Requirement): AppError | undefined;
  returnTo(value: unknown): string | undefined;
  /** A form's schema validation failure, as the API would have reported it. */
  invalid(request: FastifyRequest): AppError | undefined;
  /**
   * An error a form shows (a wrong password, a bad code): returned as an AppError, with its
   * Retry-After set. A server-side failure (5xx) is rethrown for the error page.
   */
  expected(error: unknown, reply: FastifyReply): AppError;
  asAppError(error: unknown): AppError;
}

export function createPageKit(services: Services, strings: PageStrings): PageKit {
  const { authenticator, cookies, origins, sessions } = services;
  const formTargets = origins.list.slice(1);
  const layout = { strings, csp: { script: pageCsp(formTargets, true), none: pageCsp(formTargets, false) } };
  const asAppError = (error: unknown) => toAppError(error, services.isUnavailable);

  const session = async (request: FastifyRequest, types: readonly TokenType[] = ['access']) => {
    const credential = authenticator.cookieCredential(request, types);
    if (!credential) return undefined;
    try {
      const principal = await sessions.authenticate(credential.token, types);
      return { principal, credential, csrfToken: cookies.csrfToken(principal.session.id), client: clientInfo(request) };
    } catch (error) {
      if (sessionGone(error)) return undefined;
      throw error;
    }
  };

  return {
    strings,
    render: (reply, page) => sendPage(reply, layout, page),
    header: (s) => (s ? { username: s.principal.user.username, csrfToken: s.csrfToken } : undefined),
    async fromOurPages(request) {
      if (!origins.allowsRequest(request)) throw csrfFailed('The form was not sent from one of our pages.');
    },
    session,
    async postedSession(request, formToken) {
      const found = await session(request);
      if (!found) return undefined;
      authenticator.checkCsrf(request, found.credential, found.principal.session.id, String(formToken ?? ''));
      return found;
    },
    unmet(principal, requirement) {
      try {
        checkRequirement(principal, requirement);
        return undefined;
      } catch (error) {
        return asAppError(error);
      }
    },
    returnTo: (value) => origins.safeReturn(value),
    invalid: (request) => (request.validationError ? asAppError(request.validationError) : undefined),
    expected(error, reply) {
      const failure = asAppError(error);
      if (failure.status >= 500) throw error;
      if (failure.retryAfterSeconds !== undefined) reply.header('retry-after', String(failure.retryAfterSeconds));
      return failure;
    },
    asAppError,
  };
}
