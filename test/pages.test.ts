/**
 * The hosted pages without a browser: every form checks where it comes from (anonymous forms)
 * or the session's CSRF token (signed-in forms) before it changes anything; account forms meet
 * the same requirements as their API twins (fresh, aal 2); the session renews through
 * /auth/resume and ends through /auth/sign-out even with only the refresh cookie; a wrong
 * password reads the same for a known and an unknown user; hostile input comes back escaped;
 * the stylesheet and the language are the operator's.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { CookieJar } from './cookie-jar.js';
import { ENGINES } from './engines.js';
import { FORM_HEADERS, json, newCredentials, register, snapshot, startApp, type TestApp, whoami } from './helpers.js';
import { SoftAuthenticator } from './soft-authenticator.js';
import { tempDir } from './temp-dir.js';

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
      for (const path of [
        '/account/sessions/end',
        '/account/mfa/enrol',
        '/account/email',
        '/account/passkeys/add',
        '/account/passkeys/rename',
        '/account/passkeys/remove',
        '/auth/sign-out',
      ]) {
        assert.equal(
          (await b.post(path, { csrf_token: 'nope', session_id: 'x', new_email: 'a@b.co', passkey_id: 'x', name: 'y' }))
            .statusCode,
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
        ['/login/passkey', { passkey_response: '{}' }],
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
    const dir = tempDir('tessera-css-');
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

/** The text of an attribute as the page escaped it. */
const unescapeAttribute = (text: string) =>
  text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));

describe('passkeys on the pages', () => {
  it('adds one (its options ride in the page), renames it, asks for aal 2 to remove it, and signs in with it at /login/passkey', async (t) => {
    const test = await startApp(t, 'sqlite');
    const { b, userId } = await signedIn(test, 'pkpage');
    const authenticator = new SoftAuthenticator('http://127.0.0.1:5000', '127.0.0.1');

    const adding = await b.post('/account/passkeys/add', { csrf_token: b.csrf() });
    assert.equal(adding.statusCode, 200, adding.body);
    assert.match(String(adding.headers['content-security-policy']), /script-src 'self'/);
    assert.match(adding.body, /<script src="\/pages\/passkeys.js" defer><\/script>/);
    const options = JSON.parse(unescapeAttribute(adding.body.match(/data-options="([^"]+)"/)?.[1] ?? ''));
    const added = await b.post('/account/passkeys/register', {
      csrf_token: b.csrf(),
      name: 'Soft key',
      passkey_response: JSON.stringify(authenticator.create(options)),
    });
    assert.equal(added.statusCode, 303, added.body);
    assert.equal(added.headers.location, '/account?notice=passkey_added');
    const [passkey] = await test.stores.passkeys.listForUser(userId);
    assert.equal(passkey?.name, 'Soft key');
    const account = await b.get(String(added.headers.location));
    assert.match(account.body, /Your passkey is added/);
    assert.match(account.body, /<td>Soft key<\/td>/);
    assert.match(
      String(account.headers['content-security-policy']),
      /script-src 'none'/,
      'no script on the account page',
    );

    const renamed = await b.post('/account/passkeys/rename', {
      csrf_token: b.csrf(),
      passkey_id: passkey?.id ?? '',
      name: '<b>Work laptop</b>',
    });
    assert.equal(renamed.headers.location, '/account?notice=passkey_renamed');
    assert.match((await b.get('/account')).body, /&#60;b&#62;Work laptop&#60;\/b&#62;/);

    const weak = await b.post('/account/passkeys/remove', { csrf_token: b.csrf(), passkey_id: passkey?.id ?? '' });
    assert.equal(weak.statusCode, 403);
    assert.match(weak.body, /sign in again with your second factor/);
    assert.equal((await test.stores.passkeys.listForUser(userId)).length, 1);

    // A replayed or malformed answer comes back on the sign-in page; a good one signs in at aal 2.
    const optionsResponse = await test.app.inject({ method: 'POST', url: '/auth/passkeys/login/options', payload: {} });
    const assertion = authenticator.get(json<{ challenge: string }>(optionsResponse));
    const malformed = await b.post('/login/passkey', { passkey_response: 'not json' });
    assert.equal(malformed.statusCode, 400);
    assert.match(malformed.body, /role="alert"/);
    const signedInAgain = await b.post('/login/passkey', {
      passkey_response: JSON.stringify(assertion),
      return_to: 'https://evil.example/',
    });
    assert.equal(signedInAgain.statusCode, 303, signedInAgain.body);
    assert.equal(signedInAgain.headers.location, '/account', 'no open redirect');
    const replayed = await b.post('/login/passkey', { passkey_response: JSON.stringify(assertion) });
    assert.equal(replayed.statusCode, 401);
    assert.match(replayed.body, /The passkey could not be verified/);

    const removed = await b.post('/account/passkeys/remove', { csrf_token: b.csrf(), passkey_id: passkey?.id ?? '' });
    assert.equal(removed.headers.location, '/account?notice=passkey_removed');
    assert.equal((await test.stores.passkeys.listForUser(userId)).length, 0);
  });

  it('serves the one script as JavaScript, cacheable, and only the passkey pages may run it', async (t) => {
    const test = await startApp(t, 'sqlite');
    const script = await test.app.inject({ method: 'GET', url: '/pages/passkeys.js' });
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers['content-type']), /^text\/javascript/);
    assert.equal(script.headers['x-content-type-options'], 'nosniff');
    assert.match(script.body, /navigator\.credentials\.get/);
    const again = await test.app.inject({
      method: 'GET',
      url: '/pages/passkeys.js',
      headers: { 'if-none-match': String(script.headers.etag) },
    });
    assert.equal(again.statusCode, 304);
    for (const [path, runs] of [
      ['/login', true],
      ['/register', false],
      ['/forgot-password', false],
    ] as const) {
      const page = await test.app.inject({ method: 'GET', url: path });
      const csp = String(page.headers['content-security-policy']);
      assert.match(csp, runs ? /script-src 'self'/ : /script-src 'none'/, path);
      assert.doesNotMatch(csp, /unsafe/, path);
      assert.equal(page.body.includes('<script'), runs, path);
    }
  });
});
