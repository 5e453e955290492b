/**
 * Browser sessions over cookies: `"transport": "cookie"` puts the tokens in HttpOnly cookies;
 * a cookie-authenticated unsafe request needs the session's CSRF token (header equal to its
 * cookie) and a trusted origin, else 403 csrf_failed with nothing changed; Bearer is untouched;
 * Flask-JWT-Extended's names; CORS only for listed origins, never `*` with credentials.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { CookieJar } from './cookie-jar.js';
import { ENGINES } from './engines.js';
import { bearer, type Credentials, json, newCredentials, register, signUp, startApp, whoami } from './helpers.js';

const OWN = 'http://127.0.0.1:5000';
const names = { access: 'tessera-access', refresh: 'tessera-refresh', csrf: 'tessera-csrf' };

async function cookieLogin(app: FastifyInstance, credentials: Credentials, jar = new CookieJar()) {
  const response = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: credentials.username, password: credentials.password, transport: 'cookie' },
  });
  assert.equal(response.statusCode, 200, response.body);
  jar.take(response);
  return { jar, response, body: json<{ message: string; csrf_token: string; expires_in: number }>(response) };
}

/** A request as the browser would send it from one of our pages. */
function fromPage(jar: CookieJar, url: string, csrf?: string, origin = OWN) {
  return { ...jar.header(url), origin, ...(csrf === undefined ? {} : { 'x-csrf-token': csrf }) };
}

const whoamiByCookie = (app: FastifyInstance, jar: CookieJar) =>
  app.inject({ method: 'GET', url: '/auth/whoami', headers: jar.header('/auth/whoami') });

for (const engine of ENGINES) {
  describe(`cookie transport [${engine}]`, () => {
    it('sets the tokens as cookies, never in the body, and authenticates by them', async (t) => {
      const { app, config } = await startApp(t, engine);
      const credentials = newCredentials('cookie');
      await register(app, credentials);
      const { jar, response, body } = await cookieLogin(app, credentials);
      assert.deepEqual(Object.keys(body).sort(), ['csrf_token', 'expires_in', 'message']);
      assert.equal(body.expires_in, config.jwt.accessTtlSeconds);
      assert.ok(!/eyJ/.test(response.body), 'no JWT in the body');
      const access = jar.cookies.get(names.access);
      const refresh = jar.cookies.get(names.refresh);
      const csrf = jar.cookies.get(names.csrf);
      assert.ok(access && refresh && csrf);
      assert.deepEqual([access.httpOnly, access.path, access.maxAge], [true, '/', config.jwt.accessTtlSeconds]);
      assert.deepEqual([refresh.httpOnly, refresh.path, refresh.sameSite], [true, '/auth', 'Strict']);
      assert.equal(csrf.httpOnly, false, 'script must read the CSRF token');
      assert.equal(csrf.value, body.csrf_token);
      assert.ok(!access.secure, 'a loopback http PUBLIC_URL drops Secure');
      const me = await whoamiByCookie(app, jar);
      assert.equal(me.statusCode, 200, me.body);
      assert.equal(json<{ user_details: { username: string } }>(me).user_details.username, credentials.username);
    });

    it('refuses an unsafe cookie request without the CSRF proof, and changes nothing', async (t) => {
      const { app } = await startApp(t, engine);
      const credentials = newCredentials('csrf');
      await register(app, credentials);
      const { jar, body } = await cookieLogin(app, credentials);
      const other = await cookieLogin(app, credentials);
      const logout = (headers: Record<string, string>) =>
        app.inject({ method: 'POST', url: '/auth/logout', headers, payload: {} });
      const refused: [string, Record<string, string>][] = [
        ['no header', fromPage(jar, '/auth/logout')],
        ['header not matching the cookie', fromPage(jar, '/auth/logout', other.body.csrf_token)],
        [
          'another session’s token in both',
          {
            origin: OWN,
            'x-csrf-token': other.body.csrf_token,
            cookie: `${names.access}=${jar.get(names.access)}; ${names.csrf}=${other.body.csrf_token}`,
          },
        ],
        ['a forged token', fromPage(jar, '/auth/logout', 'A'.repeat(43))],
        ['a foreign origin', fromPage(jar, '/auth/logout', body.csrf_token, 'http://127.0.0.1:6000')],
        ['origin null and no fetch metadata', fromPage(jar, '/auth/logout', body.csrf_token, 'null')],
        [
          'a same-site page',
          { ...fromPage(jar, '/auth/logout', body.csrf_token, 'null'), 'sec-fetch-site': 'same-site' },
        ],
      ];
      for (const [what, headers] of refused) {
        const response = await logout(headers);
        assert.equal(response.statusCode, 403, `${what}: ${response.body}`);
        assert.equal(json(response).error, 'csrf_failed', what);
        assert.equal((await whoamiByCookie(app, jar)).statusCode, 200, `${what}: the session is still live`);
      }
      const sameOrigin = await logout({
        ...fromPage(jar, '/auth/logout', body.csrf_token, 'null'),
        'sec-fetch-site': 'same-origin',
      });
      assert.equal(sameOrigin.statusCode, 200, sameOrigin.body);
      const cleared = sameOrigin.cookies.map((c) => (c as { name: string }).name).sort();
      assert.deepEqual(cleared, [names.access, names.csrf, names.refresh].sort(), 'logout clears the cookies');
      jar.take(sameOrigin);
      assert.equal(jar.cookies.size, 0);
      assert.equal((await whoamiByCookie(app, other.jar)).statusCode, 200, 'the other session lives');
    });

    it('refreshes by cookie with CSRF, rotating the cookies; a replayed refresh cookie ends the session', async (t) => {
      const test = await startApp(t, engine);
      const { app } = test;
      const credentials = newCredentials('rotate');
      await register(app, credentials);
      const { jar, body } = await cookieLogin(app, credentials);
      const oldRefresh = jar.get(names.refresh) ?? '';
      const noCsrf = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: fromPage(jar, '/auth/refresh'),
      });
      assert.equal(json(noCsrf).error, 'csrf_failed');
      assert.equal(jar.get(names.refresh), oldRefresh);
      const refreshed = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: fromPage(jar, '/auth/refresh', body.csrf_token),
      });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      assert.deepEqual(Object.keys(json(refreshed)).sort(), ['csrf_token', 'expires_in']);
      jar.take(refreshed);
      assert.notEqual(jar.get(names.refresh), oldRefresh);
      assert.equal(
        json(refreshed).csrf_token,
        body.csrf_token,
        'the CSRF token is bound to the session, not the token',
      );
      test.clock.ms += (test.config.refreshReuseIntervalSeconds + 1) * 1000;
      const replay = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: {
          cookie: `${names.refresh}=${oldRefresh}; ${names.csrf}=${body.csrf_token}`,
          origin: OWN,
          'x-csrf-token': body.csrf_token,
        },
      });
      assert.equal(json(replay).error, 'token_revoked');
      assert.equal(json(await whoamiByCookie(app, jar)).error, 'token_revoked', 'reuse ended the session');
    });
  });
}

describe('cookie transport: names, Bearer, MFA and CORS', () => {
  it('uses __Host-/__Secure- names and Secure behind an https PUBLIC_URL', async (t) => {
    const { app } = await startApp(t, 'sqlite', { env: { PUBLIC_URL: 'https://auth.example.com' } });
    const credentials = newCredentials('secure');
    await register(app, credentials);
    const { jar } = await cookieLogin(app, credentials);
    assert.deepEqual([...jar.cookies.keys()].sort(), [
      '__Host-tessera-access',
      '__Host-tessera-csrf',
      '__Secure-tessera-refresh',
    ]);
    for (const cookie of jar.cookies.values()) assert.ok(cookie.secure, `${cookie.name} is Secure`);
    assert.equal(jar.cookies.get('__Host-tessera-access')?.path, '/', '__Host- needs Path=/');
  });

  it("speaks Flask-JWT-Extended's cookie names with COOKIE_NAMES=flask", async (t) => {
    const { app } = await startApp(t, 'sqlite', { env: { COOKIE_NAMES: 'flask' } });
    const credentials = newCredentials('flask');
    await register(app, credentials);
    const { jar, body } = await cookieLogin(app, credentials);
    assert.deepEqual([...jar.cookies.keys()].sort(), [
      'access_token_cookie',
      'csrf_access_token',
      'csrf_refresh_token',
      'refresh_token_cookie',
    ]);
    assert.equal(jar.get('csrf_refresh_token'), body.csrf_token);
    const refreshed = await app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: {
        ...jar.header('/auth/refresh'),
        cookie: `refresh_token_cookie=${jar.get('refresh_token_cookie')}; csrf_refresh_token=${body.csrf_token}`,
        origin: OWN,
        'X-CSRF-TOKEN': body.csrf_token,
      },
    });
    assert.equal(refreshed.statusCode, 200, refreshed.body);
  });

  it('lets Bearer work as before, with no CSRF token, even beside cookies', async (t) => {
    const { app } = await startApp(t, 'sqlite');
    const { tokens, credentials } = await signUp(app);
    const { jar } = await cookieLogin(app, credentials);
    const response = await app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { ...bearer(tokens.access_token), ...jar.header('/auth/logout') },
      payload: {},
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.cookies.length, 0, 'a Bearer logout leaves the browser session alone');
    assert.equal(json(await whoami(app, tokens.access_token)).error, 'token_revoked');
    assert.equal((await whoamiByCookie(app, jar)).statusCode, 200);
  });

  it('refuses a cookie whose session has ended, and a cookie on a GET that rotates (Bearer only)', async (t) => {
    const { app } = await startApp(t, 'sqlite');
    const credentials = newCredentials('get');
    await register(app, credentials);
    const { jar } = await cookieLogin(app, credentials);
    const get = await app.inject({ method: 'GET', url: '/auth/refresh', headers: jar.header('/auth/refresh') });
    assert.equal(json(get).error, 'authorization_required');
    const revokeGet = await app.inject({
      method: 'GET',
      url: '/auth/revoke_token',
      headers: jar.header('/auth/revoke_token'),
    });
    assert.equal(json(revokeGet).error, 'authorization_required');
    assert.equal((await whoamiByCookie(app, jar)).statusCode, 200);
  });

  it('answers CORS only for listed origins, with credentials, never with *', async (t) => {
    const listed = 'https://app.example.com';
    const { app } = await startApp(t, 'sqlite', { env: { CORS_ORIGINS: `${listed}, https://admin.example.com` } });
    const preflight = (origin: string) =>
      app.inject({
        method: 'OPTIONS',
        url: '/auth/logout',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-csrf-token' },
      });
    const ok = await preflight(listed);
    assert.equal(ok.headers['access-control-allow-origin'], listed);
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    assert.match(String(ok.headers['access-control-allow-headers']), /x-csrf-token/);
    const evil = await preflight('https://evil.example.com');
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
    const credentials = newCredentials('cors');
    await register(app, credentials);
    const { jar, body } = await cookieLogin(app, credentials);
    const logout = await app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: fromPage(jar, '/auth/logout', body.csrf_token, listed),
      payload: {},
    });
    assert.equal(logout.statusCode, 200, logout.body);
    assert.equal(logout.headers['access-control-allow-origin'], listed);
    const plain = await startApp(t, 'sqlite');
    const none = await plain.app.inject({ method: 'GET', url: '/health', headers: { origin: listed } });
    assert.equal(none.headers['access-control-allow-origin'], undefined, 'no CORS_ORIGINS: same origin only');
  });
});
