/**
 * Property-based fuzzing of every JSON body the API takes: whatever the body, the answer is
 * never a 5xx, and an answer of 4xx never comes with a change to anything stored.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { CookieJar } from './cookie-jar.js';
import {
  bearer,
  FORM_HEADERS,
  json,
  login,
  newCredentials,
  register,
  signUpAdmin,
  snapshot,
  startApp,
  type TestApp,
  type Tokens,
} from './helpers.js';

const FUZZ_CLIENT_SECRET = 'tsk_fuzz-client-secret';

const FIELDS = [
  'username',
  'email',
  'password',
  'refresh_token',
  'scope',
  'current_password',
  'new_password',
  'roles',
  'disabled',
  'token',
  'new_email',
  'mfa_token',
  'code',
  'recovery_code',
  'transport',
  'token_type_hint',
  'response',
  'passkey_response',
  'name',
  '__proto__',
  'constructor',
];

/** Challenges the app really issued (filled in before the runs), so some answers get past the lookup. */
const issuedChallenges: string[] = ['not-issued'];
const base64url = fc.oneof(
  fc.base64String({ maxLength: 60 }).map((b) => b.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')),
  fc.string({ maxLength: 30 }),
);
const clientData = fc
  .record({
    type: fc.constantFrom('webauthn.get', 'webauthn.create', 'other'),
    challenge: fc.oneof(
      fc.nat(8).map((i) => issuedChallenges[i % issuedChallenges.length]),
      fc.jsonValue(),
    ),
    origin: fc.constantFrom('https://auth.example.test', 'https://evil.example', 'null'),
  })
  .map((data) => Buffer.from(JSON.stringify(data)).toString('base64url'));
/** Something shaped like a WebAuthn response, with hostile parts. */
const passkeyResponse = fc.record(
  {
    id: base64url,
    rawId: base64url,
    type: fc.constantFrom('public-key', 'password', ''),
    response: fc.record(
      {
        clientDataJSON: fc.oneof(clientData, base64url),
        authenticatorData: base64url,
        attestationObject: base64url,
        signature: base64url,
        userHandle: base64url,
      },
      { requiredKeys: [] },
    ),
    clientExtensionResults: fc.oneof(fc.constant({}), fc.jsonValue()),
  },
  { requiredKeys: ['response'] },
);

/** Bodies near the real ones (known field names, hostile values) and anything JSON at all. */
const body = fc.oneof(
  fc.record(
    {
      response: passkeyResponse,
      passkey_response: passkeyResponse,
      mfa_token: fc.string({ maxLength: 20 }),
      name: fc.string({ unit: 'grapheme', maxLength: 80 }),
      transport: fc.constantFrom('cookie', 'body'),
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(
    fc.constantFrom(...FIELDS),
    fc.oneof(
      fc.jsonValue(),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.constantFrom(
        '',
        'local',
        'global',
        'admin',
        'cookie',
        "' OR 1=1 --",
        '\u0000',
        'ａｄｍｉｎ',
        'x\ud800',
        '\udc00',
      ),
    ),
  ),
  fc.jsonValue({ maxDepth: 4 }),
);

describe('fuzzing every JSON body (fast-check)', () => {
  const teardown: (() => unknown)[] = [];
  let test: TestApp;
  let tokens: Tokens;
  let adminTokens: Tokens;
  let memberId: string;
  const member = newCredentials('fuzz');
  before(async () => {
    test = await startApp({ after: (fn) => teardown.push(fn) }, 'sqlite', {
      env: { RATE_LIMIT_PER_IP: '1000000', PUBLIC_URL: 'https://auth.example.test' },
    });
    memberId = await register(test.app, member);
    tokens = await login(test.app, member);
    for (const url of ['/auth/passkeys/login/options', '/auth/passkeys/register/options']) {
      for (let i = 0; i < 2; i++) {
        const options = await test.app.inject({
          method: 'POST',
          url,
          headers: bearer(tokens.access_token),
          payload: {},
        });
        issuedChallenges.push(json<{ challenge: string }>(options).challenge);
      }
    }
    adminTokens = (await signUpAdmin(test)).tokens;
    await test.stores.apiClients.insert({
      id: 'rs_fuzz',
      name: 'fuzz',
      secretHash: createHash('sha256').update(FUZZ_CLIENT_SECRET).digest('hex'),
      createdAt: test.clock.now(),
    });
  });
  after(async () => {
    for (const fn of teardown.reverse()) await fn();
  });

  const endpoints: [string, () => Omit<InjectOptions, 'payload'>][] = [
    ['POST /auth/register', () => ({ method: 'POST', url: '/auth/register' })],
    ['POST /auth/login', () => ({ method: 'POST', url: '/auth/login' })],
    ['POST /auth/refresh', () => ({ method: 'POST', url: '/auth/refresh' })],
    [
      'POST /auth/revoke_token',
      () => ({ method: 'POST', url: '/auth/revoke_token', headers: bearer(tokens.access_token) }),
    ],
    ['POST /auth/logout', () => ({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) })],
    ['POST /auth/password', () => ({ method: 'POST', url: '/auth/password', headers: bearer(tokens.access_token) })],
    ['POST /auth/verify', () => ({ method: 'POST', url: '/auth/verify' })],
    ['POST /auth/verify/resend', () => ({ method: 'POST', url: '/auth/verify/resend' })],
    ['POST /auth/password/forgot', () => ({ method: 'POST', url: '/auth/password/forgot' })],
    ['POST /auth/password/reset', () => ({ method: 'POST', url: '/auth/password/reset' })],
    ['POST /auth/email', () => ({ method: 'POST', url: '/auth/email', headers: bearer(tokens.access_token) })],
    ['POST /auth/mfa/verify', () => ({ method: 'POST', url: '/auth/mfa/verify' })],
    [
      'POST /auth/mfa/totp/{id}/confirm',
      () => ({ method: 'POST', url: `/auth/mfa/totp/${memberId}/confirm`, headers: bearer(tokens.access_token) }),
    ],
    ['POST /auth/passkeys/login', () => ({ method: 'POST', url: '/auth/passkeys/login' })],
    ['POST /auth/passkeys/login/options', () => ({ method: 'POST', url: '/auth/passkeys/login/options' })],
    [
      'POST /auth/passkeys/register',
      () => ({ method: 'POST', url: '/auth/passkeys/register', headers: bearer(tokens.access_token) }),
    ],
    [
      'PATCH /auth/passkeys/{id}',
      () => ({ method: 'PATCH', url: '/auth/passkeys/AAAA', headers: bearer(tokens.access_token) }),
    ],
    [
      'POST /auth/introspect',
      () => ({
        method: 'POST',
        url: '/auth/introspect',
        headers: { authorization: `Basic ${Buffer.from(`rs_fuzz:${FUZZ_CLIENT_SECRET}`).toString('base64')}` },
      }),
    ],
    [
      'PATCH /users/{id}',
      () => ({ method: 'PATCH', url: `/users/${memberId}`, headers: bearer(adminTokens.access_token) }),
    ],
  ];

  for (const [name, request] of endpoints) {
    it(`${name}: never a 5xx, and nothing stored changes on a 4xx`, async () => {
      await fc.assert(
        fc.asyncProperty(body, async (payload) => {
          const before = await snapshot(test.stores, test.clock.now());
          const response = await test.app.inject({
            ...request(),
            headers: { ...request().headers, 'content-type': 'application/json' },
            payload: JSON.stringify(payload),
          });
          assert.ok(response.statusCode < 500, `${response.statusCode} ${response.body}`);
          assert.equal(typeof json(response).error === 'string' || response.statusCode < 400, true);
          if (response.statusCode >= 400) assert.equal(await snapshot(test.stores, test.clock.now()), before);
          // A body that validly logged the member out or disabled it: restore it for the next run.
          if (
            (await test.app.inject({ method: 'GET', url: '/auth/whoami', headers: bearer(tokens.access_token) }))
              .statusCode !== 200
          ) {
            await test.stores.users.update(memberId, { disabled: false }, test.clock.now());
            tokens = await login(test.app, member);
          }
        }),
        { numRuns: 60 },
      );
    });
  }
});

/** Form fields the pages take, with hostile values; the CSRF token is mostly the real one. */
const FORM_FIELDS = [...FIELDS, 'return_to', 'csrf_token', 'session_id', 'factor_id', 'secret', 'passkey_id'];

describe('fuzzing every page form (fast-check)', () => {
  const teardown: (() => unknown)[] = [];
  let test: TestApp;
  const member = newCredentials('formfuzz');
  const jar = new CookieJar();
  const signInByCookie = async () => {
    const response = await test.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: member.username, password: member.password, transport: 'cookie' },
    });
    jar.take(response);
    return json<{ csrf_token: string }>(response).csrf_token;
  };
  let csrf = '';
  before(async () => {
    test = await startApp({ after: (fn) => teardown.push(fn) }, 'sqlite', { env: { RATE_LIMIT_PER_IP: '1000000' } });
    await register(test.app, member);
    csrf = await signInByCookie();
  });
  after(async () => {
    for (const fn of teardown.reverse()) await fn();
  });

  const form = fc.oneof(
    fc
      .dictionary(
        fc.constantFrom(...FORM_FIELDS),
        fc.oneof(
          fc.string({ unit: 'grapheme', maxLength: 40 }),
          passkeyResponse.map((response) => JSON.stringify(response)),
          fc.constantFrom(
            '',
            '//evil.example',
            'javascript:alert(1)',
            '<script>',
            "' OR 1=1 --",
            '\u0000',
            'x\ud800',
            'REAL_CSRF',
          ),
        ),
      )
      .map((fields) => {
        const params = new URLSearchParams();
        for (const [name, value] of Object.entries(fields)) params.append(name, value === 'REAL_CSRF' ? csrf : value);
        if (!('csrf_token' in fields)) params.append('csrf_token', csrf);
        return params.toString();
      }),
    fc.string({ maxLength: 200 }),
  );

  const pages = [
    '/login',
    '/login/mfa',
    '/register',
    '/forgot-password',
    '/verify-email',
    '/reset-password',
    '/account/password',
    '/account/email',
    '/account/verify-email',
    '/account/sessions/end',
    '/account/mfa/confirm',
    '/account/mfa/recovery-codes',
    '/account/mfa/remove',
    '/login/passkey',
    '/account/passkeys/add',
    '/account/passkeys/register',
    '/account/passkeys/rename',
    '/account/passkeys/remove',
    '/auth/sign-out',
  ];
  for (const path of pages) {
    it(`POST ${path}: never a 5xx, HTML or a redirect, and nothing stored changes on a 4xx`, async () => {
      await fc.assert(
        fc.asyncProperty(form, async (payload) => {
          const before = await snapshot(test.stores, test.clock.now());
          const response = await test.app.inject({
            method: 'POST',
            url: path,
            headers: { ...jar.header(path), ...FORM_HEADERS },
            payload,
          });
          assert.ok(response.statusCode < 500, `${response.statusCode} ${response.body}`);
          if (response.statusCode !== 303) assert.match(String(response.headers['content-type']), /^text\/html/);
          if (response.statusCode >= 400) assert.equal(await snapshot(test.stores, test.clock.now()), before);
          // A form that validly signed out: sign in again for the next run.
          const me = await test.app.inject({ method: 'GET', url: '/auth/whoami', headers: jar.header('/auth/whoami') });
          if (me.statusCode !== 200) csrf = await signInByCookie();
        }),
        { numRuns: 40 },
      );
    });
  }
});
