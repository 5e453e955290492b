/**
 * The cookie transport: a session's tokens as HttpOnly cookies a browser keeps out of reach of
 * script, with a CSRF token (bound to the session) in a cookie script can read and send back
 * as a header. The refresh token is sent only to /auth and never cross-site.
 *
 * Cookies are read and written here with the `cookie` library, not through @fastify/cookie: that
 * plugin puts an onSend hook on every response of the app, and taking that hook off a cached
 * whoami made it 10% cheaper, measured side by side (docs/BENCHMARKS.md).
 */
import { parseCookie, type SerializeOptions, stringifySetCookie } from 'cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BrowserConfig } from '../../config.js';
import type { TokenPair } from '../../core/types.js';
import type { CsrfTokens } from '../../crypto/csrf-tokens.js';

/** Flask-JWT-Extended's header name; header names are case-insensitive, so it is ours too. */
export const CSRF_HEADER = 'x-csrf-token';
export const REFRESH_COOKIE_PATH = '/auth';

export interface CookieNames {
  access: string;
  refresh: string;
  /** The CSRF cookie sent beside each token (the same value: both are bound to the session). */
  accessCsrf: string;
  refreshCsrf: string;
}

/**
 * Tessera's names carry the `__Host-`/`__Secure-` prefixes, which browsers honour only on
 * Secure cookies: over plain http on a loopback PUBLIC_URL the same names go unprefixed.
 */
export function cookieNames(naming: BrowserConfig['cookieNames'], secure: boolean): CookieNames {
  if (naming === 'flask') {
    return {
      access: 'access_token_cookie',
      refresh: 'refresh_token_cookie',
      accessCsrf: 'csrf_access_token',
      refreshCsrf: 'csrf_refresh_token',
    };
  }
  const host = secure ? '__Host-' : '';
  const csrf = `${host}tessera-csrf`;
  return {
    access: `${host}tessera-access`,
    refresh: `${secure ? '__Secure-' : ''}tessera-refresh`,
    accessCsrf: csrf,
    refreshCsrf: csrf,
  };
}

/** `Secure` is dropped only where browsers cannot send it back: http on this machine. */
export function cookiesAreSecure(publicUrl: string): boolean {
  const url = new URL(publicUrl);
  return !(url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
}

export interface SessionCookies {
  access?: string;
  refresh?: string;
  accessCsrf?: string;
  refreshCsrf?: string;
}

export interface CookieTransport {
  readonly names: CookieNames;
  read(request: FastifyRequest): SessionCookies;
  /** Puts the pair in cookies; returns the CSRF token, which the answer's body also carries. */
  set(reply: FastifyReply, pair: TokenPair): string;
  clear(reply: FastifyReply): void;
  csrfToken(sessionId: string): string;
  csrfMatches(sessionId: string, presented: string): boolean;
}

export function createCookieTransport(browser: BrowserConfig, publicUrl: string, csrf: CsrfTokens): CookieTransport {
  const secure = cookiesAreSecure(publicUrl);
  const names = cookieNames(browser.cookieNames, secure);
  // Lax, not Strict, for the access and CSRF cookies: a link into /account from a mail must
  // arrive signed in. Unsafe requests never rely on SameSite; they need the CSRF checks.
  const base: SerializeOptions = { secure, sameSite: 'lax', path: '/' };
  const accessOptions: SerializeOptions = { ...base, httpOnly: true };
  const refreshOptions: SerializeOptions = {
    ...base,
    httpOnly: true,
    sameSite: 'strict',
    path: REFRESH_COOKIE_PATH,
  };
  const csrfOptions: SerializeOptions = { ...base, httpOnly: false };
  const csrfNames = [...new Set([names.accessCsrf, names.refreshCsrf])];
  // Fastify adds each `set-cookie` value to those the reply already has.
  const setCookie = (reply: FastifyReply, name: string, value: string, options: SerializeOptions) =>
    reply.header('set-cookie', stringifySetCookie({ name, value, ...options }));
  const cleared = { expires: new Date(0), maxAge: 0 };

  return {
    names,
    read(request) {
      const header = request.headers.cookie;
      if (header === undefined) return {};
      const jar = parseCookie(header);
      return {
        access: jar[names.access],
        refresh: jar[names.refresh],
        accessCsrf: jar[names.accessCsrf],
        refreshCsrf: jar[names.refreshCsrf],
      };
    },
    set(reply, pair) {
      const token = csrf.issue(pair.sessionId);
      setCookie(reply, names.access, pair.accessToken, { ...accessOptions, maxAge: pair.expiresIn });
      setCookie(reply, names.refresh, pair.refreshToken, { ...refreshOptions, maxAge: pair.refreshExpiresIn });
      for (const name of csrfNames) setCookie(reply, name, token, { ...csrfOptions, maxAge: pair.refreshExpiresIn });
      return token;
    },
    clear(reply) {
      setCookie(reply, names.access, '', { ...accessOptions, ...cleared });
      setCookie(reply, names.refresh, '', { ...refreshOptions, ...cleared });
      for (const name of csrfNames) setCookie(reply, name, '', { ...csrfOptions, ...cleared });
    },
    csrfToken: (sessionId) => csrf.issue(sessionId),
    csrfMatches: (sessionId, presented) => csrf.matches(sessionId, presented),
  };
}
