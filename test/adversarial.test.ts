/**
 * Attacks auth services meet, one row each: every row asserts the exact status and code, and
 * that nothing stored changed. Runs against the real app on SQLite with LOG_LEVEL=trace, and
 * at the end the log must hold no password and no token.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import {
  bearer,
  decodeJwt,
  FORM_HEADERS,
  json,
  login,
  newCredentials,
  PASSWORD,
  register,
  SECRET,
  snapshot,
  startApp,
  type TestApp,
  type Tokens,
} from './helpers.js';
import { SoftAuthenticator } from './soft-authenticator.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const hs = (header: Record<string, unknown>, payload: Record<string, unknown>, secret = SECRET, digest = 'sha256') => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(digest, secret).update(input).digest('base64url')}`;
};

interface Case {
  name: string;
  request: (ctx: Context) => InjectOptions;
  status: number;
  code?: string;
}

interface Context {
  tokens: Tokens;
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  now: number;
  victim: { username: string; email: string; password: string };
  /** The victim's browser session: its cookies and CSRF token. */
  browser: { access: string; refresh: string; csrf: string };
}

const OWN_ORIGIN = 'http://127.0.0.1:5000';
/** An unsafe request on the victim's cookie session, with whatever CSRF proof the case brings. */
const withCookies =
  (url: string, proof: (c: Context) => Record<string, string>, payload: unknown = {}, cookie = 'tessera-access') =>
  (c: Context): InjectOptions => ({
    method: 'POST',
    url,
    headers: {
      'content-type': 'application/json',
      cookie: `${cookie}=${cookie === 'tessera-access' ? c.browser.access : c.browser.refresh}; tessera-csrf=${c.browser.csrf}`,
      ...proof(c),
    },
    payload: JSON.stringify(payload),
  });

const whoamiWith =
  (token: (c: Context) => string) =>
  (c: Context): InjectOptions => ({
    method: 'GET',
    url: '/auth/whoami',
    headers: bearer(token(c)),
  });
const postJson =
  (url: string, payload: unknown, headers: (c: Context) => Record<string, string> = () => ({})) =>
  (c: Context): InjectOptions => ({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers(c) },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
const loginWith = (payload: unknown) => postJson('/auth/login', payload);
const registerWith = (payload: unknown) => postJson('/auth/register', payload);
/** A token of the right shape (43 base64url characters) that nobody issued. */
const guessedLink = randomBytes(32).toString('base64url');

/** A software authenticator for this origin whose credential the server never saw. */
const stranger = new SoftAuthenticator(OWN_ORIGIN, '127.0.0.1');
const strangerRegistration = stranger.create({ challenge: guessedLink, rp: {}, user: { id: guessedLink } });
const forgedAssertion = stranger.get({ challenge: guessedLink });

const unsigned = (header: Record<string, unknown>, payload: Record<string, unknown>, signature = '') =>
  `${b64(header)}.${b64(payload)}.${signature}`;

const CASES: Case[] = [
  // alg: none in every casing, with and without a signature
  ...['none', 'None', 'NONE', 'nOnE'].map((alg) => ({
    name: `alg ${alg}`,
    request: whoamiWith((c) => unsigned({ ...c.header, alg }, c.payload)),
    status: 401,
    code: 'invalid_token',
  })),
  {
    name: 'alg none keeping the real signature',
    request: whoamiWith(
      (c) => `${b64({ ...c.header, alg: 'none' })}.${c.tokens.access_token.split('.').slice(1).join('.')}`,
    ),
    status: 401,
    code: 'invalid_token',
  },
  // algorithm substitution
  {
    name: 'HS512 with the real secret',
    request: whoamiWith((c) => hs({ ...c.header, alg: 'HS512' }, c.payload, SECRET, 'sha512')),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'HS384 with the real secret',
    request: whoamiWith((c) => hs({ ...c.header, alg: 'HS384' }, c.payload, SECRET, 'sha384')),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'RS256 header over an HMAC signature',
    request: whoamiWith((c) => hs({ ...c.header, alg: 'RS256' }, c.payload)),
    status: 401,
    code: 'invalid_token',
  },
  // header injection: none of these is ever fetched or trusted
  {
    name: 'jwk header with an attacker key',
    request: whoamiWith((c) =>
      hs({ ...c.header, jwk: { kty: 'oct', k: b64('attacker') } }, { ...c.payload, roles: ['admin'] }, 'attacker'),
    ),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'jku header',
    request: whoamiWith((c) => hs({ ...c.header, jku: 'http://127.0.0.1:9/keys' }, c.payload, 'attacker')),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'x5u header',
    request: whoamiWith((c) => hs({ ...c.header, x5u: 'http://127.0.0.1:9/cert' }, c.payload, 'attacker')),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'kid with SQL',
    request: whoamiWith((c) => hs({ ...c.header, kid: "' OR '1'='1" }, c.payload)),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'kid with a path',
    request: whoamiWith((c) => hs({ ...c.header, kid: '../../../../dev/null' }, c.payload, '')),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'no kid',
    request: whoamiWith((c) => hs({ alg: 'HS256', typ: 'JWT' }, c.payload)),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'crit with an unknown extension',
    request: whoamiWith((c) => hs({ ...c.header, crit: ['exp-ext'], 'exp-ext': true }, c.payload)),
    status: 401,
    code: 'invalid_token',
  },
  // signatures and structure
  {
    name: 'stripped signature',
    request: whoamiWith((c) => `${c.tokens.access_token.split('.').slice(0, 2).join('.')}.`),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'two segments',
    request: whoamiWith((c) => c.tokens.access_token.split('.').slice(0, 2).join('.')),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'four segments',
    request: whoamiWith((c) => `${c.tokens.access_token}.AAAA`),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'payload tampered (roles: admin)',
    request: whoamiWith((c) => {
      const [h, , s] = c.tokens.access_token.split('.');
      return `${h}.${b64({ ...c.payload, roles: ['admin'] })}.${s}`;
    }),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'header tampered',
    request: whoamiWith((c) => {
      const [, p, s] = c.tokens.access_token.split('.');
      return `${b64({ ...c.header, typ: 'at+jwt' })}.${p}.${s}`;
    }),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'payload not base64url',
    request: whoamiWith((c) => `${c.tokens.access_token.split('.')[0]}.!!!$$$.${c.tokens.access_token.split('.')[2]}`),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'header not JSON',
    request: whoamiWith(
      (c) => `${Buffer.from('{"alg":').toString('base64url')}.${c.tokens.access_token.split('.').slice(1).join('.')}`,
    ),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'payload a JSON array',
    request: whoamiWith((c) => hs(c.header, [1, 2, 3] as never)),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'a token of 12 KB',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, pad: 'x'.repeat(12_000) })),
    status: 401,
    code: 'invalid_token',
  },
  // time edges around the 5 s leeway
  {
    name: 'exp exactly at now - leeway',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, exp: c.now - 5 })),
    status: 401,
    code: 'token_expired',
  },
  {
    name: 'exp one second inside the leeway',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, exp: c.now - 4 })),
    status: 200,
  },
  {
    name: 'nbf just past the leeway',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, nbf: c.now + 6 })),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'nbf at the leeway',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, nbf: c.now + 5 })),
    status: 200,
  },
  {
    name: 'iat in the future',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, iat: c.now + 60 })),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'exp as a string',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, exp: String(c.now + 600) })),
    status: 401,
    code: 'invalid_token',
  },
  // claims
  {
    name: 'refresh token where an access token belongs',
    request: whoamiWith((c) => c.tokens.refresh_token),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'an unknown type',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, type: 'id' })),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'sub of another, nonexistent user',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, sub: 'no-such-user' })),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'sub and sid that do not exist',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, sub: 'ghost', sid: 'ghost-session' })),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'missing jti',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, jti: undefined })),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'missing sid',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, sid: undefined })),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'missing exp',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, exp: undefined })),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'wrong issuer',
    request: whoamiWith((c) => hs(c.header, { ...c.payload, iss: 'evil' })),
    status: 401,
    code: 'invalid_token',
  },
  // the Authorization header itself
  {
    name: 'Basic scheme',
    request: () => ({
      method: 'GET',
      url: '/auth/whoami',
      headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
    }),
    status: 401,
    code: 'authorization_required',
  },
  {
    name: 'Digest scheme',
    request: () => ({ method: 'GET', url: '/auth/whoami', headers: { authorization: 'Digest username="a"' } }),
    status: 401,
    code: 'authorization_required',
  },
  {
    name: 'two tokens after Bearer',
    request: (c) => ({
      method: 'GET',
      url: '/auth/whoami',
      headers: { authorization: `Bearer ${c.tokens.access_token} ${c.tokens.access_token}` },
    }),
    status: 401,
    code: 'authorization_required',
  },
  {
    name: 'token in the query string',
    request: (c) => ({ method: 'GET', url: `/auth/whoami?access_token=${c.tokens.access_token}` }),
    status: 401,
    code: 'authorization_required',
  },
  {
    name: 'lower-case scheme is still Bearer',
    request: (c) => ({
      method: 'GET',
      url: '/auth/whoami',
      headers: { authorization: `bearer ${c.tokens.access_token}` },
    }),
    status: 200,
  },
  // hostile bodies
  {
    name: 'deeply nested JSON',
    request: loginWith(`${'['.repeat(4000)}${']'.repeat(4000)}`),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: '__proto__ carrying a password',
    request: loginWith('{"username":"victim","__proto__":{"password":"x"}}'),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'constructor.prototype pollution',
    request: loginWith('{"username":"victim","password":"x","constructor":{"prototype":{"isAdmin":true}}}'),
    status: 401,
    code: 'invalid_credentials',
  },
  {
    name: 'username as an object',
    request: loginWith({ username: { $ne: null }, password: 'x' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'password as an array',
    request: loginWith({ username: 'victim', password: ['a'] }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'NUL in a username',
    request: registerWith({ username: 'evil\u0000admin', email: 'n@example.com', password: PASSWORD }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'control characters in an email',
    request: registerWith({ username: 'ctrl', email: 'ctrl\r\n@example.com', password: PASSWORD }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'NFKC look-alike of a taken name',
    request: (c) =>
      registerWith({
        username: c.victim.username.replace(/[a-z]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0)),
        email: 'lookalike@example.com',
        password: PASSWORD,
      })(c),
    status: 409,
    code: 'user_exists',
  },
  {
    name: 'oversize password at register, refused before hashing',
    request: registerWith({ username: 'bigpw', email: 'bigpw@example.com', password: 'p'.repeat(257) }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'oversize password at login, refused before hashing',
    request: (c) => loginWith({ username: c.victim.username, password: 'p'.repeat(9000) })(c),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'SQL in a login username',
    request: loginWith({ username: "admin' OR '1'='1' --", password: "' OR '1'='1" }),
    status: 401,
    code: 'invalid_credentials',
  },
  {
    // JSON can carry a lone surrogate; its throttle counts once made a batch's upsert fail for
    // every login and refresh that shared it.
    name: 'a lone surrogate in a login username',
    request: loginWith('{"username":"victim\\ud800","password":"wrong horse"}'),
    status: 401,
    code: 'invalid_credentials',
  },
  {
    name: 'SQL in a registration username',
    request: registerWith({ username: "x'); DROP TABLE users;--", email: 'sql@example.com', password: PASSWORD }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'SQL in an email',
    request: registerWith({ username: 'sqlmail', email: "a@b.co'; DELETE FROM users;--", password: PASSWORD }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'roles smuggled into a password change',
    request: (c) => ({
      method: 'POST',
      url: '/auth/password',
      headers: bearer(c.tokens.access_token),
      payload: { current_password: 'wrong password', new_password: 'another fine passphrase', roles: ['admin'] },
    }),
    status: 401,
    code: 'invalid_credentials',
  },
  {
    name: 'form-encoded body',
    request: () => ({
      method: 'POST',
      url: '/auth/login',
      headers: FORM_HEADERS,
      payload: 'username=a&password=b',
    }),
    status: 415,
    code: 'unsupported_media_type',
  },
  // one-time mail links: guessed, malformed, hostile
  {
    name: 'a guessed verification token',
    request: postJson('/auth/verify', { token: guessedLink }),
    status: 400,
    code: 'invalid_link_token',
  },
  {
    name: 'a guessed reset token with a good new password',
    request: postJson('/auth/password/reset', { token: guessedLink, new_password: 'a perfectly good passphrase' }),
    status: 400,
    code: 'invalid_link_token',
  },
  {
    name: 'SQL in a link token',
    request: postJson('/auth/verify', { token: "' OR used_at IS NULL --" }),
    status: 400,
    code: 'invalid_link_token',
  },
  {
    name: 'a link token as an object',
    request: postJson('/auth/verify', { token: { $ne: null } }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a token hash sent as the token',
    request: postJson('/auth/verify', { token: 'a'.repeat(64) }),
    status: 400,
    code: 'invalid_link_token',
  },
  {
    name: 'a weak password with a guessed reset token, refused before any lookup',
    request: postJson('/auth/password/reset', { token: guessedLink, new_password: 'password' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'header injection in a forgot-password address',
    request: postJson('/auth/password/forgot', { email: 'victim@example.com\r\nBcc: everyone@example.com' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a list of addresses to resend to',
    request: postJson('/auth/verify/resend', { email: ['a@example.com', 'b@example.com'] }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an email change to a malformed address',
    request: postJson('/auth/email', { new_email: 'not-an-address' }, (c) => bearer(c.tokens.access_token)),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an email change with no token at all',
    request: postJson('/auth/email', { new_email: 'thief@example.com' }),
    status: 401,
    code: 'authorization_required',
  },
  // passkeys
  {
    name: 'a passkey sign-in with a credential never registered, for a guessed challenge',
    request: postJson('/auth/passkeys/login', { response: forgedAssertion }),
    status: 401,
    code: 'invalid_passkey',
  },
  {
    name: 'a passkey sign-in whose clientDataJSON is not JSON',
    request: postJson('/auth/passkeys/login', {
      response: { ...forgedAssertion, response: { ...forgedAssertion.response, clientDataJSON: 'bm90LWpzb24' } },
    }),
    status: 401,
    code: 'invalid_passkey',
  },
  {
    name: 'a passkey response with SQL in its user handle',
    request: postJson('/auth/passkeys/login', {
      response: { ...forgedAssertion, response: { ...forgedAssertion.response, userHandle: "' OR 1=1 --" } },
    }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'registering a passkey answering a guessed challenge',
    request: postJson('/auth/passkeys/register', { response: strangerRegistration }, (c) =>
      bearer(c.tokens.access_token),
    ),
    status: 401,
    code: 'invalid_passkey',
  },
  {
    name: 'registering a passkey with no token',
    request: postJson('/auth/passkeys/register', { response: strangerRegistration }),
    status: 401,
    code: 'authorization_required',
  },
  {
    name: 'passkey creation options on a cookie session without the CSRF header',
    request: withCookies('/auth/passkeys/register/options', () => ({ origin: OWN_ORIGIN })),
    status: 403,
    code: 'csrf_failed',
  },
  {
    name: 'removing a passkey with an aal 1 token',
    request: (c) => ({ method: 'DELETE', url: '/auth/passkeys/anything', headers: bearer(c.tokens.access_token) }),
    status: 403,
    code: 'mfa_required',
  },
  {
    name: "renaming a passkey that is not the caller's",
    request: (c) => ({
      method: 'PATCH',
      url: `/auth/passkeys/${strangerRegistration.id}`,
      headers: { ...bearer(c.tokens.access_token), 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'mine' }),
    }),
    status: 404,
    code: 'not_found',
  },
  {
    name: 'passkey options for a guessed mfa_token',
    request: postJson('/auth/passkeys/login/options', { mfa_token: guessedLink }),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'an mfa step answered with a passkey for a guessed mfa_token',
    request: postJson('/auth/mfa/verify', { mfa_token: guessedLink, passkey_response: forgedAssertion }),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'an mfa step with both a code and a passkey response',
    request: postJson('/auth/mfa/verify', {
      mfa_token: guessedLink,
      code: '123456',
      passkey_response: forgedAssertion,
    }),
    status: 400,
    code: 'validation_failed',
  },
  // the second step of a login, and managing factors
  {
    name: 'a guessed mfa_token',
    request: postJson('/auth/mfa/verify', { mfa_token: guessedLink, code: '123456' }),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'an access token as the mfa_token',
    request: (c) => postJson('/auth/mfa/verify', { mfa_token: c.tokens.access_token.slice(0, 120), code: '123456' })(c),
    status: 401,
    code: 'invalid_token',
  },
  {
    name: 'an mfa step with neither a code nor a recovery code',
    request: postJson('/auth/mfa/verify', { mfa_token: guessedLink }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: "confirming a factor that is not the caller's",
    request: postJson('/auth/mfa/totp/00000000-0000-4000-8000-000000000000/confirm', { code: '123456' }, (c) =>
      bearer(c.tokens.access_token),
    ),
    status: 404,
    code: 'not_found',
  },
  {
    name: 'removing a factor with an aal 1 token',
    request: (c) => ({ method: 'DELETE', url: '/auth/mfa/totp/anything', headers: bearer(c.tokens.access_token) }),
    status: 403,
    code: 'mfa_required',
  },
  {
    name: 'renewing recovery codes with an aal 1 token',
    request: (c) => ({ method: 'POST', url: '/auth/mfa/recovery_codes', headers: bearer(c.tokens.access_token) }),
    status: 403,
    code: 'mfa_required',
  },
  {
    name: "a member resetting someone's second factors",
    request: (c) => ({
      method: 'DELETE',
      url: '/users/00000000-0000-4000-8000-000000000000/mfa',
      headers: bearer(c.tokens.access_token),
    }),
    status: 403,
    code: 'forbidden',
  },
  {
    name: 'a refresh token revoking someone by body without its own validity',
    request: (c) => ({
      method: 'POST',
      url: '/auth/revoke_token',
      headers: bearer(c.tokens.access_token),
      payload: { refresh_token: hs(c.header, { ...c.payload, type: 'refresh' }, 'attacker') },
    }),
    status: 401,
    code: 'invalid_token',
  },
  // CSRF on the cookie transport: each needs the session's own token, equal to its cookie, from a trusted origin.
  {
    name: 'a cookie logout with no CSRF header',
    request: withCookies('/auth/logout', () => ({ origin: OWN_ORIGIN })),
    status: 403,
    code: 'csrf_failed',
  },
  {
    name: 'a cookie logout with a guessed CSRF token in header and cookie',
    request: (c) => {
      const guess = randomBytes(32).toString('base64url');
      return {
        method: 'POST',
        url: '/auth/logout',
        headers: {
          cookie: `tessera-access=${c.browser.access}; tessera-csrf=${guess}`,
          'x-csrf-token': guess,
          origin: OWN_ORIGIN,
        },
        payload: {},
      };
    },
    status: 403,
    code: 'csrf_failed',
  },
  {
    name: "a cookie logout with the session's token from a foreign origin",
    request: withCookies('/auth/logout', (c) => ({ 'x-csrf-token': c.browser.csrf, origin: 'https://evil.example' })),
    status: 403,
    code: 'csrf_failed',
  },
  {
    name: "a cookie logout with the session's token, Origin null and no fetch metadata",
    request: withCookies('/auth/logout', (c) => ({ 'x-csrf-token': c.browser.csrf, origin: 'null' })),
    status: 403,
    code: 'csrf_failed',
  },
  {
    name: 'a cookie logout from a same-site page on another port',
    request: withCookies('/auth/logout', (c) => ({ 'x-csrf-token': c.browser.csrf, 'sec-fetch-site': 'same-site' })),
    status: 403,
    code: 'csrf_failed',
  },
  {
    name: 'a cookie password change with no CSRF header',
    request: withCookies('/auth/password', () => ({ origin: OWN_ORIGIN }), {
      current_password: PASSWORD,
      new_password: 'a planted new passphrase',
    }),
    status: 403,
    code: 'csrf_failed',
  },
  {
    name: 'a cookie refresh with no CSRF header (the rotation does not happen)',
    request: withCookies('/auth/refresh', () => ({ origin: OWN_ORIGIN }), {}, 'tessera-refresh'),
    status: 403,
    code: 'csrf_failed',
  },
  {
    name: "a CSRF token of another user's session",
    request: withCookies('/auth/logout', () => ({
      'x-csrf-token': 'Oq1dMhT3wBYnRfXU4w0sV0YxkP2bL3hQyJm7eK9cZaA',
      origin: OWN_ORIGIN,
    })),
    status: 403,
    code: 'csrf_failed',
  },
  // Introspection: a guessed or borrowed credential is refused; a forged token is just inactive.
  {
    name: 'introspection with a guessed client secret',
    request: () => ({
      method: 'POST',
      url: '/auth/introspect',
      headers: {
        authorization: `Basic ${Buffer.from(`${ADVERSARY_CLIENT}:tsk_${randomBytes(32).toString('base64url')}`).toString('base64')}`,
      },
      payload: { token: 'x' },
    }),
    status: 401,
    code: 'invalid_client',
  },
  {
    name: "introspection with a user's Bearer token instead of a client",
    request: (c) => ({
      method: 'POST',
      url: '/auth/introspect',
      headers: bearer(c.tokens.access_token),
      payload: { token: c.tokens.access_token },
    }),
    status: 401,
    code: 'invalid_client',
  },
  {
    name: 'the revocation feed with a guessed client id',
    request: () => ({
      method: 'GET',
      url: '/auth/revocations',
      headers: {
        authorization: `Basic ${Buffer.from(`rs_${randomBytes(16).toString('hex')}:${ADVERSARY_SECRET}`).toString('base64')}`,
      },
    }),
    status: 401,
    code: 'invalid_client',
  },
  {
    name: 'introspecting an alg none token: inactive, no reason',
    request: (c) => ({
      method: 'POST',
      url: '/auth/introspect',
      headers: { authorization: `Basic ${Buffer.from(`${ADVERSARY_CLIENT}:${ADVERSARY_SECRET}`).toString('base64')}` },
      payload: { token: unsigned({ ...c.header, alg: 'none' }, c.payload) },
    }),
    status: 200,
  },
];

const ADVERSARY_CLIENT = 'rs_adversary';
const ADVERSARY_SECRET = 'tsk_adversary-suite-secret';

describe('adversarial suite', () => {
  // One app serves the whole table, so that the log check at the end sees every case.
  const teardown: (() => unknown)[] = [];
  let test: TestApp;
  let context: Context;
  before(async () => {
    test = await startApp({ after: (fn) => teardown.push(fn) }, 'sqlite', { env: { LOG_LEVEL: 'trace' } });
    const victim = newCredentials('victim');
    await register(test.app, victim);
    const tokens = await login(test.app, victim);
    const { header, payload } = decodeJwt(tokens.access_token);
    await test.stores.apiClients.insert({
      id: ADVERSARY_CLIENT,
      name: 'adversary',
      secretHash: createHash('sha256').update(ADVERSARY_SECRET).digest('hex'),
      createdAt: test.clock.now(),
    });
    const cookieLogin = await test.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: victim.username, password: victim.password, transport: 'cookie' },
    });
    const jar = Object.fromEntries(
      cookieLogin.cookies.map((c) => [(c as { name: string }).name, (c as { value: string }).value]),
    );
    const browser = {
      access: jar['tessera-access'] ?? '',
      refresh: jar['tessera-refresh'] ?? '',
      csrf: jar['tessera-csrf'] ?? '',
    };
    context = { tokens, header, payload, now: Math.floor(test.clock.now() / 1000), victim, browser };
  });
  after(async () => {
    for (const fn of teardown.reverse()) await fn();
  });

  it(`has at least 40 cases (${CASES.length})`, () => assert.ok(CASES.length >= 40));

  for (const c of CASES) {
    it(c.name, async () => {
      const before = await snapshot(test.stores, test.clock.now());
      const response = await test.app.inject(c.request(context));
      assert.equal(response.statusCode, c.status, `${c.name}: ${response.body.slice(0, 200)}`);
      assert.match(String(response.headers['content-type']), /application\/json/);
      if (c.code) assert.equal(json(response).error, c.code);
      assert.equal(await snapshot(test.stores, test.clock.now()), before, 'nothing stored changed');
    });
  }

  it('refresh replay after the reuse interval ends the session, and a replay race has one winner', async () => {
    const fresh = await login(test.app, context.victim);
    const first = await test.app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(fresh.refresh_token) });
    assert.equal(first.statusCode, 200);
    test.clock.advance(11);
    const replays = await Promise.all(
      Array.from({ length: 6 }, () =>
        test.app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(fresh.refresh_token) }),
      ),
    );
    assert.ok(replays.every((r) => r.statusCode === 401 && json(r).error === 'token_revoked'));
    const successor = json<Tokens>(first);
    assert.equal(
      json(await test.app.inject({ method: 'GET', url: '/auth/whoami', headers: bearer(successor.access_token) }))
        .error,
      'token_revoked',
    );
  });

  it('one session refreshed flat out rotates once per REFRESH_MIN_INTERVAL_MS; the rest write nothing', async () => {
    const fresh = await login(test.app, context.victim);
    const refresh = (token: string) =>
      test.app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(token) });
    const first = json<Tokens>(await refresh(fresh.refresh_token));
    const before = await snapshot(test.stores, test.clock.now());
    const burst = await Promise.all(Array.from({ length: 20 }, () => refresh(first.refresh_token)));
    assert.ok(burst.every((r) => r.statusCode === 200 && json<Tokens>(r).refresh_token === first.refresh_token));
    assert.equal(await snapshot(test.stores, test.clock.now()), before, 'nothing rotated, nothing counted');
  });

  it('a page reflects a hostile token only escaped, under a CSP that runs no script', async () => {
    const hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
    for (const page of ['/verify-email', '/reset-password']) {
      const response = await test.app.inject({ method: 'GET', url: `${page}?token=${encodeURIComponent(hostile)}` });
      assert.equal(response.statusCode, 200);
      assert.ok(!response.body.includes('<script>alert'), 'no script');
      assert.ok(!response.body.includes('<img src=x'), 'no injected element');
      assert.match(response.body, /&#34;&#62;&#60;script&#62;/);
      assert.match(String(response.headers['content-security-policy']), /script-src 'none'/);
      assert.doesNotMatch(String(response.headers['content-security-policy']), /unsafe/);
    }
  });

  it('page POSTs share the per-address limit of their API twins', async (t) => {
    const limited = await startApp(t, 'sqlite', { env: { RATE_LIMIT_PER_IP: '3' } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await limited.app.inject({
        method: 'POST',
        url: '/reset-password',
        headers: FORM_HEADERS,
        payload: `token=${guessedLink}&new_password=a+perfectly+good+passphrase`,
      });
      statuses.push(response.statusCode);
    }
    assert.deepEqual(statuses, [400, 400, 400, 429, 429]);
  });

  it('a page POST with a guessed token changes nothing and says so in HTML', async () => {
    const before = await snapshot(test.stores, test.clock.now());
    for (const [page, body] of [
      ['/verify-email', `token=${guessedLink}`],
      ['/reset-password', `token=${guessedLink}&new_password=a+perfectly+good+passphrase`],
    ] as const) {
      const response = await test.app.inject({
        method: 'POST',
        url: page,
        headers: FORM_HEADERS,
        payload: body,
      });
      assert.equal(response.statusCode, 400);
      assert.match(String(response.headers['content-type']), /^text\/html/);
      assert.match(response.body, /role="alert"/);
    }
    assert.equal(await snapshot(test.stores, test.clock.now()), before);
  });

  it('pages: return_to never leads off the trusted origins (open redirect)', async () => {
    for (const hostile of [
      'https://evil.example/',
      '//evil.example',
      '/\\evil.example',
      'https:evil.example',
      'http://127.0.0.1:5000@evil.example/',
      'javascript:alert(document.cookie)',
      'data:text/html,<script>alert(1)</script>',
      '\x00https://evil.example',
    ]) {
      const posted = await test.app.inject({
        method: 'POST',
        url: '/login',
        headers: FORM_HEADERS,
        payload: new URLSearchParams({
          username: context.victim.username,
          password: PASSWORD,
          return_to: hostile,
        }).toString(),
      });
      assert.equal(posted.statusCode, 303, hostile);
      assert.equal(posted.headers.location, '/account', hostile);
      const resume = await test.app.inject({
        method: 'GET',
        url: `/auth/resume?return_to=${encodeURIComponent(hostile)}`,
        headers: { cookie: `tessera-refresh=${context.browser.refresh}` },
      });
      assert.ok(!String(resume.headers.location).includes('evil'), hostile);
      context.browser.refresh =
        (resume.cookies as { name: string; value: string }[]).find((c) => c.name === 'tessera-refresh')?.value ??
        context.browser.refresh;
    }
  });

  it('pages: forgot-password answers the same status and body for a known and an unknown address', async () => {
    const ask = (email: string) =>
      test.app.inject({
        method: 'POST',
        url: '/forgot-password',
        headers: FORM_HEADERS,
        payload: `email=${encodeURIComponent(email)}`,
      });
    const known = await ask(context.victim.email);
    const unknown = await ask('nobody-here@example.com');
    assert.equal(known.statusCode, unknown.statusCode);
    assert.equal(known.body, unknown.body);
  });

  it('pages: none can be framed, and a GET of /logout signs nobody out', async () => {
    const before = await snapshot(test.stores, test.clock.now());
    for (const path of [
      '/login',
      '/register',
      '/forgot-password',
      '/reset-password',
      '/verify-email',
      '/account',
      '/logout',
    ]) {
      const page = await test.app.inject({
        method: 'GET',
        url: path,
        headers: { cookie: `tessera-access=${context.browser.access}; tessera-csrf=${context.browser.csrf}` },
      });
      if (page.statusCode === 303) continue;
      assert.equal(page.headers['x-frame-options'], 'DENY', path);
      assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/, path);
    }
    assert.equal(await snapshot(test.stores, test.clock.now()), before);
  });

  it('pages: a replayed sign-out or CSRF token of an ended session changes nothing', async () => {
    const cookieLogin = await test.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: context.victim.username, password: PASSWORD, transport: 'cookie' },
    });
    const cookies = Object.fromEntries(
      (cookieLogin.cookies as { name: string; value: string }[]).map((c) => [c.name, c.value]),
    );
    const ended = json<{ csrf_token: string }>(cookieLogin).csrf_token;
    const signOut = () =>
      test.app.inject({
        method: 'POST',
        url: '/auth/sign-out',
        headers: { ...FORM_HEADERS, cookie: `tessera-access=${cookies['tessera-access']}` },
        payload: `csrf_token=${ended}`,
      });
    assert.equal((await signOut()).statusCode, 303);
    const before = await snapshot(test.stores, test.clock.now());
    // The old session's token against the victim's live session: refused.
    const replay = await test.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: {
        cookie: `tessera-access=${context.browser.access}; tessera-csrf=${ended}`,
        'x-csrf-token': ended,
        origin: OWN_ORIGIN,
      },
      payload: {},
    });
    assert.equal(replay.statusCode, 403);
    assert.equal(json(replay).error, 'csrf_failed');
    assert.equal((await signOut()).statusCode, 303, 'signing out twice is harmless');
    assert.equal(await snapshot(test.stores, test.clock.now()), before);
  });

  it('leaves no password and no token in the server log (at LOG_LEVEL=trace)', () => {
    const log = test.logs.join('');
    assert.match(log, /incoming request/, 'every request was logged, so the check means something');
    assert.match(log, /"path":"\/auth\/whoami"/);
    assert.ok(!log.includes(PASSWORD), 'no password');
    for (const token of [context.tokens.access_token, context.tokens.refresh_token]) {
      assert.ok(!log.includes(token), 'no token');
      assert.ok(!log.includes(token.split('.')[2] ?? '-'), 'not even a signature');
    }
    assert.ok(!/"authorization":"Bearer/i.test(log), 'no Authorization header');
  });
});
