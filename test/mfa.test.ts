/**
 * Two-factor login: TOTP enrolment with recovery codes, the second login step and its
 * single-use challenge, codes never accepted twice (on any instance), one step of skew, the
 * assurance level in tokens and sessions, and managing factors at aal 2. Codes are computed
 * by test/totp.ts, not by the code under test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ENGINES } from './engines.js';
import {
  bearer,
  type Credentials,
  decodeJwt,
  json,
  login,
  newCredentials,
  register,
  signUpAdmin,
  sqlOutsideTessera,
  startApp,
  type TestApp,
  type Tokens,
  whoami,
} from './helpers.js';
import { RFC_SECRET, totpAt } from './totp.js';

const STEP = 30_000;

interface Enrolled {
  credentials: Credentials;
  secret: string;
  factorId: string;
  recoveryCodes: string[];
  /** The aal-1 tokens of the login that enrolled. */
  tokens: Tokens;
}

/** Moves the clock to the start of the next 30-second step, so a test knows where it stands. */
function toStepStart(test: TestApp): void {
  test.clock.ms = Math.ceil((test.clock.ms + 1) / STEP) * STEP;
}

async function enrol(test: TestApp, prefix = 'mfa'): Promise<Enrolled> {
  const credentials = newCredentials(prefix);
  await register(test.app, credentials);
  const tokens = await login(test.app, credentials);
  const started = await test.app.inject({
    method: 'POST',
    url: '/auth/mfa/totp',
    headers: bearer(tokens.access_token),
  });
  assert.equal(started.statusCode, 201, started.body);
  const { factor_id, secret } = json<{ factor_id: string; secret: string }>(started);
  const confirmed = await test.app.inject({
    method: 'POST',
    url: `/auth/mfa/totp/${factor_id}/confirm`,
    headers: bearer(tokens.access_token),
    payload: { code: totpAt(secret, test.clock.now()) },
  });
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  return {
    credentials,
    secret,
    factorId: factor_id,
    recoveryCodes: json<{ recovery_codes: string[] }>(confirmed).recovery_codes,
    tokens,
  };
}

async function passwordStep(app: FastifyInstance, credentials: Credentials): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: credentials.username, password: credentials.password },
  });
  assert.equal(response.statusCode, 200);
  const body = json<{
    message: string;
    mfa_required: boolean;
    mfa_token: string;
    expires_in: number;
    tokens?: unknown;
  }>(response);
  assert.equal(body.message, 'MFA required');
  assert.equal(body.mfa_required, true);
  assert.equal(body.expires_in, 300);
  assert.equal(body.tokens, undefined, 'no tokens before the second factor');
  return body.mfa_token;
}

const verify = (app: FastifyInstance, payload: Record<string, string>) =>
  app.inject({ method: 'POST', url: '/auth/mfa/verify', payload });

describe('the independent TOTP of the tests', () => {
  it("matches RFC 6238's SHA-1 test vectors (last 6 digits)", () => {
    assert.equal(totpAt(RFC_SECRET, 59_000), '287082');
    assert.equal(totpAt(RFC_SECRET, 1_111_111_109_000), '081804');
    assert.equal(totpAt(RFC_SECRET, 1_234_567_890_000), '005924');
  });
});

for (const engine of ENGINES) {
  describe(`two-factor login [${engine}]`, () => {
    it('enrols an authenticator app: a pending factor, a standard otpauth URI and QR code, confirmed by a code, ten recovery codes', async (t) => {
      const test = await startApp(t, engine);
      const credentials = newCredentials('enrol');
      await register(test.app, credentials);
      const tokens = await login(test.app, credentials);
      const refreshed = json<{ access_token: string }>(
        await test.app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) }),
      );
      const stale = await test.app.inject({
        method: 'POST',
        url: '/auth/mfa/totp',
        headers: bearer(refreshed.access_token),
      });
      assert.equal(json(stale).error, 'fresh_token_required');

      const started = await test.app.inject({
        method: 'POST',
        url: '/auth/mfa/totp',
        headers: bearer(tokens.access_token),
      });
      const enrolment = json<{ factor_id: string; secret: string; otpauth_uri: string; qr_svg: string }>(started);
      assert.match(enrolment.secret, /^[A-Z2-7]{32}$/);
      const uri = new URL(enrolment.otpauth_uri);
      assert.equal(uri.protocol, 'otpauth:');
      assert.equal(uri.host, 'totp');
      assert.equal(decodeURIComponent(uri.pathname), `/Tessera:${credentials.username}`);
      assert.equal(uri.searchParams.get('secret'), enrolment.secret);
      assert.equal(uri.searchParams.get('issuer'), 'Tessera');
      assert.equal(uri.searchParams.get('algorithm'), 'SHA1');
      assert.equal(uri.searchParams.get('digits'), '6');
      assert.equal(uri.searchParams.get('period'), '30');
      assert.match(enrolment.qr_svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);

      // Pending: no part in login yet.
      assert.ok('tokens' in json(await test.app.inject({ method: 'POST', url: '/auth/login', payload: credentials })));
      const wrong = await test.app.inject({
        method: 'POST',
        url: `/auth/mfa/totp/${enrolment.factor_id}/confirm`,
        headers: bearer(tokens.access_token),
        payload: { code: totpAt(enrolment.secret, test.clock.now() + 5 * STEP) },
      });
      assert.equal(wrong.statusCode, 401);
      assert.equal(json(wrong).error, 'invalid_mfa_code');
      const confirmed = await test.app.inject({
        method: 'POST',
        url: `/auth/mfa/totp/${enrolment.factor_id}/confirm`,
        headers: bearer(tokens.access_token),
        payload: { code: totpAt(enrolment.secret, test.clock.now()) },
      });
      assert.equal(confirmed.statusCode, 200);
      const codes = json<{ recovery_codes: string[] }>(confirmed).recovery_codes;
      assert.equal(codes.length, 10);
      assert.equal(new Set(codes).size, 10);
      assert.ok(codes.every((c) => /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/.test(c)));

      const listed = json<{ factors: { id: string; type: string; status: string }[]; recovery_codes_left: number }>(
        await test.app.inject({ method: 'GET', url: '/auth/mfa', headers: bearer(tokens.access_token) }),
      );
      assert.deepEqual(
        listed.factors.map((f) => [f.id, f.type, f.status]),
        [[enrolment.factor_id, 'totp', 'confirmed']],
      );
      assert.equal(listed.recovery_codes_left, 10);
      const [stored] = await sqlOutsideTessera<{ secret: string }>(test.databaseUrl, 'select secret from mfa_factors');
      assert.match(stored?.secret ?? '', /^v1\./);
      assert.ok(!stored?.secret.includes(enrolment.secret), 'the secret is sealed');
      const hashes = await sqlOutsideTessera<{ code_hash: string }>(
        test.databaseUrl,
        'select code_hash from recovery_codes',
      );
      assert.ok(hashes.every((h) => /^[0-9a-f]{64}$/.test(h.code_hash) && !codes.includes(h.code_hash)));
    });

    it('a login with a confirmed factor needs a code; the tokens then carry aal 2 and amr, and a refresh keeps them', async (t) => {
      const test = await startApp(t, engine);
      const enrolled = await enrol(test);
      test.clock.advance(30);
      const mfaToken = await passwordStep(test.app, enrolled.credentials);
      const asBearer = await whoami(test.app, mfaToken);
      assert.equal(asBearer.statusCode, 401, 'the mfa_token is no access token');

      const done = await verify(test.app, { mfa_token: mfaToken, code: totpAt(enrolled.secret, test.clock.now()) });
      assert.equal(done.statusCode, 200, done.body);
      const { tokens, message } = json<{ message: string; tokens: Tokens }>(done);
      assert.equal(message, 'Login successful');
      const claims = decodeJwt(tokens.access_token).payload;
      assert.equal(claims.aal, 2);
      assert.deepEqual(claims.amr, ['pwd', 'otp']);
      assert.equal(claims.fresh, true);
      const refreshed = json<{ access_token: string }>(
        await test.app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) }),
      );
      assert.equal(decodeJwt(refreshed.access_token).payload.aal, 2, 'the session keeps its level');
      const listed = json<{ sessions: { current: boolean; aal: number; amr: string[] }[] }>(
        await test.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(tokens.access_token) }),
      );
      const current = listed.sessions.find((s) => s.current);
      assert.deepEqual([current?.aal, current?.amr], [2, ['pwd', 'otp']]);
      assert.ok(
        listed.sessions.some((s) => !s.current && s.aal === 1),
        'the enrolling session stays aal 1',
      );

      const again = await verify(test.app, { mfa_token: mfaToken, code: totpAt(enrolled.secret, test.clock.now()) });
      assert.equal(again.statusCode, 401);
      assert.equal(json(again).error, 'invalid_token', 'the mfa_token is single-use');
    });

    it('never accepts a code twice, takes one step of skew either way, and nothing further', async (t) => {
      const test = await startApp(t, engine);
      const enrolled = await enrol(test);
      toStepStart(test);
      test.clock.advance(30); // two steps past the one the confirmation used
      const code = totpAt(enrolled.secret, test.clock.now());
      assert.equal(
        (await verify(test.app, { mfa_token: await passwordStep(test.app, enrolled.credentials), code })).statusCode,
        200,
      );
      const replay = await verify(test.app, { mfa_token: await passwordStep(test.app, enrolled.credentials), code });
      assert.equal(replay.statusCode, 401);
      assert.equal(json(replay).error, 'invalid_mfa_code', 'the same code, even inside its step');

      test.clock.advance(60);
      const late = totpAt(enrolled.secret, test.clock.now() - STEP);
      assert.equal(
        (await verify(test.app, { mfa_token: await passwordStep(test.app, enrolled.credentials), code: late }))
          .statusCode,
        200,
        'one step behind',
      );
      const ahead = totpAt(enrolled.secret, test.clock.now() + STEP);
      assert.equal(
        (await verify(test.app, { mfa_token: await passwordStep(test.app, enrolled.credentials), code: ahead }))
          .statusCode,
        200,
        'one step ahead',
      );
      const older = totpAt(enrolled.secret, test.clock.now() - STEP);
      const stepBack = await verify(test.app, {
        mfa_token: await passwordStep(test.app, enrolled.credentials),
        code: older,
      });
      assert.equal(stepBack.statusCode, 401, 'a step before one already accepted');

      test.clock.advance(120);
      for (const offset of [-2 * STEP, 2 * STEP]) {
        const far = totpAt(enrolled.secret, test.clock.now() + offset);
        const answer = await verify(test.app, {
          mfa_token: await passwordStep(test.app, enrolled.credentials),
          code: far,
        });
        assert.equal(answer.statusCode, 401, `two steps ${offset < 0 ? 'behind' : 'ahead'}`);
      }
      // At the last millisecond of a step, that step's code and the previous one's work.
      toStepStart(test);
      test.clock.ms += STEP - 1;
      const edge = totpAt(enrolled.secret, test.clock.now());
      assert.equal(
        (await verify(test.app, { mfa_token: await passwordStep(test.app, enrolled.credentials), code: edge }))
          .statusCode,
        200,
      );
    });

    it('the mfa_token dies after five wrong codes and after five minutes; wrong codes count toward the login limits', async (t) => {
      const test = await startApp(t, engine, { env: { LOGIN_FAILURES_PER_ACCOUNT_IP: '7' } });
      const enrolled = await enrol(test);
      test.clock.advance(30);
      const mfaToken = await passwordStep(test.app, enrolled.credentials);
      for (let i = 0; i < 5; i++) {
        const wrong = await verify(test.app, {
          mfa_token: mfaToken,
          code: '000000' === totpAt(enrolled.secret, test.clock.now()) ? '111111' : '000000',
        });
        assert.equal(json(wrong).error, 'invalid_mfa_code');
      }
      const dead = await verify(test.app, { mfa_token: mfaToken, code: totpAt(enrolled.secret, test.clock.now()) });
      assert.equal(dead.statusCode, 401);
      assert.equal(json(dead).error, 'invalid_token', 'five wrong codes end the challenge, even for the right one');

      // Counted in fixed 15-minute windows: every failure here happens at one clock time, and a
      // right password since cleared none of them. Two more reach LOGIN_FAILURES_PER_ACCOUNT_IP=7.
      const expiring = await passwordStep(test.app, enrolled.credentials);
      const third = await passwordStep(test.app, enrolled.credentials);
      await verify(test.app, { mfa_token: third, code: '999999' });
      await verify(test.app, { mfa_token: third, code: '999998' });
      const locked = await verify(test.app, { mfa_token: third, code: totpAt(enrolled.secret, test.clock.now()) });
      assert.equal(locked.statusCode, 429);
      assert.ok(Number(locked.headers['retry-after']) > 0);

      test.clock.advance(301);
      const expired = await verify(test.app, { mfa_token: expiring, code: totpAt(enrolled.secret, test.clock.now()) });
      assert.equal(json(expired).error, 'invalid_token', 'five minutes end the challenge');
    });

    it('a recovery code works once, in any case and with or without dashes, for an aal 2 session of its own kind', async (t) => {
      const test = await startApp(t, engine);
      const enrolled = await enrol(test);
      const [first = '', second = ''] = enrolled.recoveryCodes;
      const used = await verify(test.app, {
        mfa_token: await passwordStep(test.app, enrolled.credentials),
        recovery_code: first.toLowerCase(),
      });
      assert.equal(used.statusCode, 200);
      assert.deepEqual(decodeJwt(json<{ tokens: Tokens }>(used).tokens.access_token).payload.amr, ['pwd', 'recovery']);
      const reused = await verify(test.app, {
        mfa_token: await passwordStep(test.app, enrolled.credentials),
        recovery_code: first,
      });
      assert.equal(json(reused).error, 'invalid_mfa_code');
      const undashed = await verify(test.app, {
        mfa_token: await passwordStep(test.app, enrolled.credentials),
        recovery_code: second.replace(/-/g, ''),
      });
      assert.equal(undashed.statusCode, 200);
      const both = await verify(test.app, {
        mfa_token: await passwordStep(test.app, enrolled.credentials),
        code: '123456',
        recovery_code: second,
      });
      assert.equal(json(both).error, 'validation_failed');
      const left = json<{ recovery_codes_left: number }>(
        await test.app.inject({ method: 'GET', url: '/auth/mfa', headers: bearer(enrolled.tokens.access_token) }),
      );
      assert.equal(left.recovery_codes_left, 8);
    });

    it('removing a factor or renewing recovery codes needs a fresh aal 2 token; removing the last ends the other sessions', async (t) => {
      const test = await startApp(t, engine);
      const enrolled = await enrol(test);
      const refused = await test.app.inject({
        method: 'DELETE',
        url: `/auth/mfa/totp/${enrolled.factorId}`,
        headers: bearer(enrolled.tokens.access_token),
      });
      assert.equal(refused.statusCode, 403);
      assert.equal(json(refused).error, 'mfa_required');
      const renewAal1 = await test.app.inject({
        method: 'POST',
        url: '/auth/mfa/recovery_codes',
        headers: bearer(enrolled.tokens.access_token),
      });
      assert.equal(json(renewAal1).error, 'mfa_required');

      test.clock.advance(30);
      const strong = json<{ tokens: Tokens }>(
        await verify(test.app, {
          mfa_token: await passwordStep(test.app, enrolled.credentials),
          code: totpAt(enrolled.secret, test.clock.now()),
        }),
      ).tokens;
      const renewed = await test.app.inject({
        method: 'POST',
        url: '/auth/mfa/recovery_codes',
        headers: bearer(strong.access_token),
      });
      assert.equal(renewed.statusCode, 200);
      const fresh = json<{ recovery_codes: string[] }>(renewed).recovery_codes;
      assert.notDeepEqual(fresh, enrolled.recoveryCodes);
      const oldCode = await verify(test.app, {
        mfa_token: await passwordStep(test.app, enrolled.credentials),
        recovery_code: enrolled.recoveryCodes[0] ?? '',
      });
      assert.equal(json(oldCode).error, 'invalid_mfa_code', 'the old codes are gone');

      const removed = await test.app.inject({
        method: 'DELETE',
        url: `/auth/mfa/totp/${enrolled.factorId}`,
        headers: bearer(strong.access_token),
      });
      assert.equal(removed.statusCode, 200);
      assert.equal((await whoami(test.app, strong.access_token)).statusCode, 200, 'the session that removed it stays');
      assert.equal(json(await whoami(test.app, enrolled.tokens.access_token)).error, 'token_revoked', 'the others end');
      assert.ok(
        'tokens' in json(await test.app.inject({ method: 'POST', url: '/auth/login', payload: enrolled.credentials })),
      );
    });

    it("an admin's reset removes a user's factors and ends every session of the user", async (t) => {
      const test = await startApp(t, engine);
      const enrolled = await enrol(test);
      const admin = await signUpAdmin(test);
      const users = json<{ users: { id: string; username: string }[] }>(
        await test.app.inject({
          method: 'GET',
          url: '/users?per_page=100',
          headers: bearer(admin.tokens.access_token),
        }),
      );
      const id = users.users.find((u) => u.username === enrolled.credentials.username)?.id ?? '';
      const reset = await test.app.inject({
        method: 'DELETE',
        url: `/users/${id}/mfa`,
        headers: bearer(admin.tokens.access_token),
      });
      assert.equal(reset.statusCode, 200);
      assert.equal(json(await whoami(test.app, enrolled.tokens.access_token)).error, 'token_revoked');
      assert.ok(
        'tokens' in json(await test.app.inject({ method: 'POST', url: '/auth/login', payload: enrolled.credentials })),
      );
      const member = await test.app.inject({
        method: 'DELETE',
        url: `/users/${id}/mfa`,
        headers: bearer(enrolled.tokens.access_token),
      });
      assert.equal(member.statusCode, 401);
    });

    it('one code sent to two instances at the same moment logs in once', async (t) => {
      const a = await startApp(t, engine);
      const b = await startApp(t, engine, { sameStoreAs: a });
      const enrolled = await enrol(a);
      a.clock.advance(30);
      const code = totpAt(enrolled.secret, a.clock.now());
      const [first, second] = await Promise.all([
        passwordStep(a.app, enrolled.credentials),
        passwordStep(b.app, enrolled.credentials),
      ]);
      const answers = await Promise.all([
        verify(a.app, { mfa_token: first, code }),
        verify(b.app, { mfa_token: second, code }),
      ]);
      assert.deepEqual(answers.map((r) => r.statusCode).sort(), [200, 401]);
      assert.equal(
        json(answers.find((r) => r.statusCode === 401) ?? answers[0] ?? ({} as never)).error,
        'invalid_mfa_code',
      );
    });
  });
}
