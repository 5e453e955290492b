/**
 * The hosted pages without a browser: every form checks where it comes from (anonymous forms)
 * or the session's CSRF token (signed-in forms) before it changes anything; account forms meet
 * the same requirements as their API twins (fresh, aal 2); the session renews through
 * /auth/resume and ends through /auth/sign-out even with only the refresh cookie; a wrong
 * password reads the same for a known and an unknown user; hostile input comes back escaped;
 * the stylesheet and the language are the operator's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { CookieJar } from './cookie-jar.js';
import { ENGINES } from './engines.js';
import { FORM_HEADERS, json, newCredentials, register, snapshot, startApp, type TestApp, whoami } from './helpers.js';

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** A browser on our pages: keeps cookies, posts forms as same-origin. */
function browser(test: TestApp) {
  const jar = new CookieJar();
  let last: LightMyRequestResponse;
  return {
    jar,
    async get(url: string, headers: Record<string, string> = {}) {
      last = await test.app.inject({ method: 'GET', url, headers: { ...jar.header(url), ...headers } });
      jar.take(last);
      return last;
    },
    async post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
      last = await test.app.inject({
        method: 'POST',
        url,
        headers: { ...jar.header(url), ...FORM_HEADERS, ...headers },
        payload: form(fields),
      });
      jar.take(last);
      return last;
    },
    /** The CSRF token the signed-in pages put in their forms. */
    csrf(): string {
      const value = [...jar.cookies.values()].find((c) => c.name.endsWith('csrf'))?.value;
      assert.ok(value, 'signed in');
      return value;
    },
  };
}

async function signedIn(test: TestApp, prefix = 'page') {
  const credentials = newCredentials(prefix);
  const userId = await register(test.app, credentials);
  const b = browser(test);
  const response = await b.post('/login', { username: credentials.username, password: credentials.password });
  assert.equal(response.statusCode, 303, response.body);
  assert.equal(response.headers.location, '/account');
  return { b, credentials, userId };
}

for (const engine of ENGINES) {
  describe(`hosted pages [${engine}]`, () => {
    it('signs in with a form, shows the account, and changes nothing from a form posted elsewhere', async (t) => {
      const test = await startApp(t, engine);
      const { b, credentials } = await signedIn(test);
      const account = await b.get('/account');
      assert.equal(account.statusCode, 200);
      assert.match(account.body, new RegExp(`<dd>${credentials.username}</dd>`));
      assert.match(String(account.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/);
      assert.equal(account.headers['referrer-policy'], 'no-referrer');

      const before = await snapshot(test.stores, test.clock.now());
      const forged: [string, Record<string, string>, Record<string, string>][] = [
        ['no token', { current_password: credentials.password, new_password: 'another fine passphrase' }, {}],
        [
          'a guessed token',
          {
            csrf_token: 'A'.repeat(43),
            current_password: credentials.password,
            new_password: 'another fine passphrase',
          },
          {},
        ],
        [
          'a foreign origin',
          { csrf_token: b.csrf(), current_password: credentials.password, new_password: 'another fine passphrase' },
          { origin: 'http://127.0.0.1:6000', 'sec-fetch-site': 'same-site' },
        ],
        [
          'no fetch metadata',
          { csrf_token: b.csrf(), current_password: credentials.password, new_password: 'another fine passphrase' },
          { 'sec-fetch-site': 'cross-site' },
        ],
      ];
      for (const [what, fields, headers] of forged) {
        const response = await b.post('/account/password', fields, headers);
        assert.equal(response.statusCode, 403, what);
        assert.match(response.body, /role="alert"/, what);
        assert.match(response.body, /not sent from this site/, what);
      }
      for (const path of ['/account/sessions/end', '/account/mfa/enrol', '/account/email', '/auth/sign-out']) {
        assert.equal(
          (await b.post(path, { csrf_token: 'nope', session_id: 'x', new_email: 'a@b.co' })).statusCode,
          403,
          path,
        );
      }
      assert.equal(await snapshot(test.stores, test.clock.now()), before, 'no forged form changed anything');

      const changed = await b.post('/account/password', {
        csrf_token: b.csrf(),
        current_password: credentials.password,
        new_password: 'another fine passphrase',
      });
      assert.equal(changed.statusCode, 303, changed.body);
      assert.equal(changed.headers.location, '/account?notice=password_changed');
      assert.match((await b.get(String(changed.headers.location))).body, /Your password is changed/);
    });

    it('refuses anonymous forms not sent from our pages (login CSRF)', async (t) => {
      const test = await startApp(t, engine);
      const credentials = newCredentials('anon');
      await register(test.app, credentials);
      const before = await snapshot(test.stores, test.clock.now());
      for (const [url, fields] of [
        ['/login', { username: credentials.username, password: credentials.password }],
        ['/register', { username: 'planted', email: 'planted@example.com', password: 'a perfectly good passphrase' }],
        ['/forgot-password', { email: credentials.email }],
      ] as const) {
        const response = await test.app.inject({
          method: 'POST',
          url,
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
          payload: form(fields),
        });
        assert.equal(response.statusCode, 403, url);
        assert.equal(response.cookies.length, 0, `${url} set no cookie`);
      }
      assert.equal(await snapshot(test.stores, test.clock.now()), before);
    });

    it('asks for a fresh sign-in after a renewal, as the API does, and renews through /auth/resume', async (t) => {
      const test = await startApp(t, engine);
      const { b, userId } = await signedIn(test, 'resume');
      // The access cookie lapses (the browser drops it at Max-Age); the refresh and CSRF cookies stay.
      const [accessName] = [...b.jar.cookies.keys()].filter((name) => name.endsWith('access'));
      b.jar.cookies.delete(accessName ?? '');
      const lapsed = await b.get('/account');
      assert.equal(lapsed.statusCode, 303);
      assert.equal(lapsed.headers.location, '/auth/resume?return_to=%2Faccount');
      const resumed = await b.get(String(lapsed.headers.location));
      assert.equal(resumed.statusCode, 303, resumed.body);
      assert.equal(resumed.headers.location, 'http://127.0.0.1:5000/account');
      assert.equal((await b.get('/account')).statusCode, 200);
      const enrol = await b.post('/account/mfa/enrol', { csrf_token: b.csrf() });
      assert.equal(enrol.statusCode, 401, 'a renewed token is not fresh: enrolment needs a sign-in');
      assert.match(enrol.body, /sign in again/);
      assert.equal((await test.stores.mfa.listFactors(userId)).length, 0, 'no factor was started');
    });

    it('signs out with only the refresh cookie left, and the session really ends', async (t) => {
      const test = await startApp(t, engine);
      const { b } = await signedIn(test, 'signout');
      const access = [...b.jar.cookies.values()].find((c) => c.name.endsWith('access'))?.value ?? '';
      b.jar.cookies.delete([...b.jar.cookies.keys()].find((n) => n.endsWith('access')) ?? '');
      const logoutPage = await b.get('/logout');
      assert.match(logoutPage.body, new RegExp(`name="csrf_token" value="${b.csrf()}"`));
      const out = await b.post('/auth/sign-out', { csrf_token: b.csrf() });
      assert.equal(out.statusCode, 303);
      assert.equal(out.headers.location, '/login?notice=signed_out');
      assert.equal(b.jar.cookies.size, 0, 'every cookie cleared');
      assert.equal(json(await whoami(test.app, access)).error, 'token_revoked');
    });

    it('reads a wrong password the same for a known and an unknown user, and escapes what it echoes', async (t) => {
      const test = await startApp(t, engine);
      const credentials = newCredentials('echo');
      await register(test.app, credentials);
      const hostile = '"><script>alert(1)</script>@x.io';
      const known = await browser(test).post('/login', { username: credentials.username, password: 'wrong password' });
      const unknown = await browser(test).post('/login', { username: hostile, password: 'wrong password' });
      assert.equal(known.statusCode, 401);
      assert.equal(unknown.statusCode, 401);
      const alert = (r: LightMyRequestResponse) => /<div class="error-summary"[\s\S]*?<\/div>/.exec(r.body)?.[0];
      assert.equal(alert(known), alert(unknown));
      assert.ok(!unknown.body.includes('<script>alert'));
      assert.match(unknown.body, /value="&#34;&#62;&#60;script&#62;/);
    });
  });
}

describe('hosted pages: operator settings and open redirects', () => {
  it('serves the operator’s stylesheet and falls back to English for a language without a table', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-css-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'theme.css');
    writeFileSync(file, 'body{background:#fefae0}');
    const test = await startApp(t, 'sqlite', { env: { PAGES_STYLESHEET: file, PAGES_LANGUAGE: 'xx' } });
    const css = await test.app.inject({ method: 'GET', url: '/pages/style.css' });
    assert.equal(css.body, 'body{background:#fefae0}');
    assert.match(String(css.headers['content-type']), /^text\/css/);
    const again = await test.app.inject({
      method: 'GET',
      url: '/pages/style.css',
      headers: { 'if-none-match': String(css.headers.etag) },
    });
    assert.equal(again.statusCode, 304);
    assert.match((await test.app.inject({ method: 'GET', url: '/login' })).body, /<html lang="en">/);
    assert.ok(test.logs.some((line) => line.includes('PAGES_LANGUAGE has no translation')));
  });

  it('follows return_to to trusted origins only', async (t) => {
    const test = await startApp(t, 'sqlite', { env: { CORS_ORIGINS: 'https://app.example.com' } });
    const credentials = newCredentials('redirect');
    await register(test.app, credentials);
    const cases: [string, string][] = [
      ['https://app.example.com/after?x=1', 'https://app.example.com/after?x=1'],
      ['/account?tab=sessions', 'http://127.0.0.1:5000/account?tab=sessions'],
      ['https://evil.example/', '/account'],
      ['//evil.example/', '/account'],
      ['/\\evil.example/', '/account'],
      ['https://app.example.com@evil.example/', '/account'],
      ['https://app.example.com.evil.example/', '/account'],
      ['javascript:alert(1)', '/account'],
      [' https://evil.example', '/account'],
      ['\thttps://evil.example', '/account'],
      ['http://app.example.com/', '/account'],
    ];
    for (const [returnTo, expected] of cases) {
      const response = await browser(test).post('/login', {
        username: credentials.username,
        password: credentials.password,
        return_to: returnTo,
      });
      assert.equal(response.statusCode, 303, returnTo);
      assert.equal(response.headers.location, expected, returnTo);
    }
    const page = await test.app.inject({ method: 'GET', url: '/login?return_to=https%3A%2F%2Fevil.example%2F' });
    assert.ok(!page.body.includes('evil.example'), 'an untrusted return_to is not even carried in the form');
  });
});
