/**
 * Passkeys through the API, on SQLite and PostgreSQL, with a software authenticator
 * (test/soft-authenticator.ts): adding, listing, renaming and removing them, signing in with and
 * without a username, the MFA step, and each way a response can be wrong being refused without a
 * session. The real browser ceremony is in test/browser/passkeys.test.ts.
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
  sqlOutsideTessera,
  startApp,
  type TestApp,
  type Tokens,
  whoami,
} from './helpers.js';
import { SoftAuthenticator } from './soft-authenticator.js';
import { totpAt } from './totp.js';

const PUBLIC_URL = 'https://auth.example.test';
const ENV = { PUBLIC_URL, PASSKEY_RP_NAME: 'Example Auth' };

interface Member {
  credentials: Credentials;
  tokens: Tokens;
  userId: string;
  authenticator: SoftAuthenticator;
  passkeyId: string;
}

type Options = { challenge: string; user: { id: string; name: string }; rp: { id: string; name: string } } & Record<
  string,
  unknown
>;
type RequestOptions = {
  challenge: string;
  allowCredentials?: { id: string }[];
  rpId?: string;
  userVerification?: string;
};

const post = (app: FastifyInstance, url: string, payload: object, token?: string) =>
  app.inject({ method: 'POST', url, payload, headers: token ? bearer(token) : {} });

async function registrationOptions(app: FastifyInstance, token: string): Promise<Options> {
  const response = await app.inject({ method: 'POST', url: '/auth/passkeys/register/options', headers: bearer(token) });
  assert.equal(response.statusCode, 200, response.body);
  return json<Options>(response);
}

async function loginOptions(app: FastifyInstance, body: object = {}): Promise<RequestOptions> {
  const response = await post(app, '/auth/passkeys/login/options', body);
  assert.equal(response.statusCode, 200, response.body);
  return json<RequestOptions>(response);
}

/** A new user with one passkey on a software authenticator. */
async function memberWithPasskey(test: TestApp, prefix = 'pk'): Promise<Member> {
  const credentials = newCredentials(prefix);
  const userId = await register(test.app, credentials);
  const tokens = await login(test.app, credentials);
  const authenticator = new SoftAuthenticator(PUBLIC_URL, 'auth.example.test');
  const options = await registrationOptions(test.app, tokens.access_token);
  const added = await post(
    test.app,
    '/auth/passkeys/register',
    { response: authenticator.create(options), name: 'Laptop' },
    tokens.access_token,
  );
  assert.equal(added.statusCode, 201, added.body);
  return { credentials, tokens, userId, authenticator, passkeyId: json<{ id: string }>(added).id };
}

const sessionCount = async (test: TestApp, userId: string) =>
  Number(
    (
      await sqlOutsideTessera<{ n: number }>(
        test.databaseUrl,
        test.databaseUrl.startsWith('sqlite:')
          ? 'select count(*) as n from sessions where user_id = ?'
          : 'select count(*)::int as n from sessions where user_id = $1',
        [userId],
      )
    )[0]?.n,
  );

const auditTypes = async (test: TestApp, userId: string) =>
  (await test.stores.audit.list({ userId, limit: 1000 })).map(
    (e) => `${e.type}${e.data?.reason ? `:${e.data.reason}` : ''}`,
  );

for (const engine of ENGINES.filter((e) => e !== 'postgres+redis')) {
  describe(`passkeys [${engine}]`, () => {
    it('adds a passkey with a fresh token: options name the rp, a random user handle, exclude the ones held, and require user verification', async (t) => {
      const test = await startApp(t, engine, { env: ENV });
      const member = await memberWithPasskey(test, 'adds');
      const options = await registrationOptions(test.app, member.tokens.access_token);
      assert.deepEqual(options.rp, { id: 'auth.example.test', name: 'Example Auth' });
      assert.equal(options.user.name, member.credentials.username);
      assert.notEqual(options.user.id, Buffer.from(member.credentials.username).toString('base64url'));
      assert.equal(Buffer.from(options.user.id, 'base64url').length, 32, 'a random 32-byte handle');
      assert.equal(
        options.user.id,
        member.authenticator.credentials[0]?.userHandle,
        'the same handle for every passkey',
      );
      assert.deepEqual(
        (options.excludeCredentials as { id: string }[]).map((c) => c.id),
        [member.passkeyId],
      );
      assert.deepEqual(options.authenticatorSelection, {
        residentKey: 'preferred',
        userVerification: 'required',
        requireResidentKey: false,
      });
      assert.equal(options.timeout, 300_000);

      const listed = json<{ passkeys: Record<string, unknown>[] }>(
        await test.app.inject({ method: 'GET', url: '/auth/passkeys', headers: bearer(member.tokens.access_token) }),
      );
      assert.equal(listed.passkeys.length, 1);
      assert.deepEqual(
        { ...listed.passkeys[0], created_at: undefined },
        {
          id: member.passkeyId,
          name: 'Laptop',
          created_at: undefined,
          last_used_at: null,
          transports: ['internal'],
          backed_up: false,
        },
      );

      // A refreshed (not fresh) token may not add one.
      const refreshed = json<Tokens>(await post(test.app, '/auth/refresh', {}, member.tokens.refresh_token));
      const stale = await test.app.inject({
        method: 'POST',
        url: '/auth/passkeys/register/options',
        headers: bearer(refreshed.access_token),
      });
      assert.equal(json(stale).error, 'fresh_token_required');
      assert.deepEqual(
        (await auditTypes(test, member.userId)).filter((type) => type.startsWith('passkey')),
        ['passkey.added'],
      );
    });

    it('signs in with a passkey, with a username or none (discoverable), at aal 2 with amr ["hwk"], by body or cookie', async (t) => {
      const test = await startApp(t, engine, { env: ENV });
      const member = await memberWithPasskey(test, 'signin');

      const discoverable = await loginOptions(test.app);
      assert.deepEqual(discoverable.allowCredentials ?? [], []);
      assert.equal(discoverable.userVerification, 'required');
      assert.equal(discoverable.rpId, 'auth.example.test');
      const first = await post(test.app, '/auth/passkeys/login', { response: member.authenticator.get(discoverable) });
      assert.equal(first.statusCode, 200, first.body);
      const tokens = json<{ message: string; tokens: Tokens }>(first).tokens;
      const claims = decodeJwt(tokens.access_token).payload;
      assert.equal(claims.aal, 2);
      assert.deepEqual(claims.amr, ['hwk']);
      assert.equal(claims.sub, member.userId);
      assert.equal((await whoami(test.app, tokens.access_token)).statusCode, 200);

      const named = await loginOptions(test.app, { username: member.credentials.username });
      assert.deepEqual(
        named.allowCredentials?.map((c) => c.id),
        [member.passkeyId],
      );
      const byCookie = await post(test.app, '/auth/passkeys/login', {
        response: member.authenticator.get(named),
        transport: 'cookie',
      });
      assert.equal(byCookie.statusCode, 200, byCookie.body);
      assert.ok(json(byCookie).csrf_token);
      assert.equal(json(byCookie).tokens, undefined);
      assert.ok(byCookie.cookies.some((c) => c.httpOnly && c.name.includes('access')));

      const listed = json<{ passkeys: { last_used_at: string | null }[] }>(
        await test.app.inject({ method: 'GET', url: '/auth/passkeys', headers: bearer(tokens.access_token) }),
      );
      assert.ok(listed.passkeys[0]?.last_used_at, 'the use is stamped');
      assert.deepEqual(
        (await auditTypes(test, member.userId)).filter((type) => type === 'login.succeeded').length,
        3,
        'the password login and the two passkey sign-ins',
      );
    });

    it('refuses a replayed response, another origin, another rp id, an expired challenge, a wrong user handle, no user verification and a counter that went back; none opens a session', async (t) => {
      const test = await startApp(t, engine, { env: { ...ENV, LOGIN_FAILURES_PER_ACCOUNT_IP: '50' } });
      const member = await memberWithPasskey(test, 'refuse');
      const other = await memberWithPasskey(test, 'other');
      const before = await sessionCount(test, member.userId);
      const refused = async (response: object, why: string) => {
        const answer = await post(test.app, '/auth/passkeys/login', { response });
        assert.equal(answer.statusCode, 401, `${why}: ${answer.body}`);
        assert.equal(json(answer).error, 'invalid_passkey', why);
      };

      const good = member.authenticator.get(await loginOptions(test.app));
      assert.equal((await post(test.app, '/auth/passkeys/login', { response: good })).statusCode, 200);
      await refused(good, 'the same response again');
      await refused(
        member.authenticator.get(await loginOptions(test.app), { origin: 'https://evil.example' }),
        'another origin',
      );
      await refused(member.authenticator.get(await loginOptions(test.app), { rpId: 'evil.example' }), 'another rp id');
      await refused(
        member.authenticator.get(await loginOptions(test.app), { challenge: 'bm90LWEtY2hhbGxlbmdlLW9mLW91cnM' }),
        'a challenge we never issued',
      );
      const stale = await loginOptions(test.app);
      test.clock.ms += 5 * 60_000 + 1;
      await refused(member.authenticator.get(stale), 'a challenge older than five minutes');
      await refused(
        member.authenticator.get(await loginOptions(test.app), {
          userHandle: other.authenticator.credentials[0]?.userHandle,
        }),
        "another user's handle",
      );
      await refused(
        member.authenticator.get(await loginOptions(test.app), { userHandle: null }),
        'no user handle on a discoverable sign-in',
      );
      await refused(
        member.authenticator.get(await loginOptions(test.app), { unverified: true }),
        'no user verification',
      );
      await refused(
        member.authenticator.get(await loginOptions(test.app, { username: other.credentials.username })),
        "a challenge issued for another user's username",
      );
      const registration = await registrationOptions(test.app, member.tokens.access_token);
      await refused(
        member.authenticator.get({ challenge: registration.challenge }),
        "a registration challenge answered as a sign-in's",
      );
      // The counter the server last saw (the authenticator's own ran on with the refused tries).
      const [stored] = await sqlOutsideTessera<{ counter: number }>(
        test.databaseUrl,
        `select counter from passkeys where id = ${test.databaseUrl.startsWith('sqlite:') ? '?' : '$1'}`,
        [member.passkeyId],
      );
      await refused(
        member.authenticator.get(await loginOptions(test.app), { counter: Number(stored?.counter) }),
        'a counter that went back (a cloned authenticator)',
      );

      assert.equal(await sessionCount(test, member.userId), before + 1, 'only the one good sign-in opened a session');
      const types = await auditTypes(test, member.userId);
      assert.equal(types.filter((type) => type === 'passkey.counter_regressed').length, 1);
      assert.ok(types.filter((type) => type === 'login.failed:passkey_failed').length >= 9);
      // After all that, the real authenticator still signs in: its counter was not moved by the clone.
      const again = await post(test.app, '/auth/passkeys/login', {
        response: member.authenticator.get(await loginOptions(test.app)),
      });
      assert.equal(again.statusCode, 200, again.body);

      // Used and expired challenges are purged; an unused live one stays until it expires.
      const live = await loginOptions(test.app);
      assert.ok((await test.stores.passkeys.purge(test.clock.now())) >= 12);
      assert.equal(await test.stores.passkeys.purge(test.clock.now()), 0);
      assert.ok(await test.stores.passkeys.consumeChallenge(live.challenge, 'login', test.clock.now()));
    });

    it('counts failed passkey sign-ins toward the login limits', async (t) => {
      const test = await startApp(t, engine, { env: { ...ENV, LOGIN_FAILURES_PER_ACCOUNT_IP: '3' } });
      const member = await memberWithPasskey(test, 'limited');
      for (let i = 0; i < 3; i++) {
        const answer = await post(test.app, '/auth/passkeys/login', {
          response: member.authenticator.get(await loginOptions(test.app), { unverified: true }),
        });
        assert.equal(json(answer).error, 'invalid_passkey');
      }
      const blocked = await post(test.app, '/auth/passkeys/login', {
        response: member.authenticator.get(await loginOptions(test.app)),
      });
      assert.equal(blocked.statusCode, 429, blocked.body);
      assert.equal(json(blocked).error, 'too_many_attempts');
      const password = await post(test.app, '/auth/login', member.credentials);
      assert.equal(password.statusCode, 429, 'the password login of that account is held back too');
    });

    it('refuses a registration answered for another session, replayed, or from another origin', async (t) => {
      const test = await startApp(t, engine, { env: ENV });
      const credentials = newCredentials('regneg');
      await register(test.app, credentials);
      const first = await login(test.app, credentials);
      const second = await login(test.app, credentials);
      const authenticator = new SoftAuthenticator(PUBLIC_URL, 'auth.example.test');
      const register_ = (response: object, token: string) =>
        post(test.app, '/auth/passkeys/register', { response }, token);

      const forFirst = authenticator.create(await registrationOptions(test.app, first.access_token));
      const crossed = await register_(forFirst, second.access_token);
      assert.equal(json(crossed).error, 'invalid_passkey', 'a challenge of another session');
      const foreign = await register_(
        authenticator.create(await registrationOptions(test.app, first.access_token), {
          origin: 'https://evil.example',
        }),
        first.access_token,
      );
      assert.equal(json(foreign).error, 'invalid_passkey', 'another origin');
      const good = authenticator.create(await registrationOptions(test.app, first.access_token));
      assert.equal((await register_(good, first.access_token)).statusCode, 201);
      assert.equal(json(await register_(good, first.access_token)).error, 'invalid_passkey', 'replayed');
      const listed = json<{ passkeys: unknown[] }>(
        await test.app.inject({ method: 'GET', url: '/auth/passkeys', headers: bearer(first.access_token) }),
      );
      assert.equal(listed.passkeys.length, 1);

      // Someone else's credential id with one's own key: refused, the owner's passkey untouched.
      const thief = await memberWithPasskey(test, 'thief');
      const hijack = await register_(
        thief.authenticator.create(await registrationOptions(test.app, thief.tokens.access_token), {
          credentialId: good.id,
        }),
        thief.tokens.access_token,
      );
      assert.equal(hijack.statusCode, 400, hijack.body);
      assert.deepEqual(json(hijack).details, [{ field: 'response', problem: 'taken' }]);
      const owner = await test.stores.passkeys.findById(good.id);
      assert.equal(owner?.userId, decodeJwt(first.access_token).payload.sub);
    });

    it('answers the same for an unknown username as for one without passkeys: a stand-in id, stable per name', async (t) => {
      const test = await startApp(t, engine, { env: ENV });
      const credentials = newCredentials('nopk');
      await register(test.app, credentials);
      const known = await loginOptions(test.app, { username: credentials.username });
      const unknown = await loginOptions(test.app, { username: 'nobody-here' });
      const unknownAgain = await loginOptions(test.app, { username: 'nobody-here' });
      assert.deepEqual(Object.keys(known).sort(), Object.keys(unknown).sort());
      assert.equal(known.allowCredentials?.length, 1);
      assert.equal(unknown.allowCredentials?.length, 1);
      assert.deepEqual(unknown.allowCredentials, unknownAgain.allowCredentials, 'a stand-in that does not change');
      assert.notDeepEqual(known.allowCredentials, unknown.allowCredentials);
      assert.equal(known.allowCredentials?.[0]?.id.length, unknown.allowCredentials?.[0]?.id.length);
    });

    it('answers the MFA step with a passkey: amr ["pwd","hwk"], bound to that mfa_token', async (t) => {
      const test = await startApp(t, engine, { env: ENV });
      const member = await memberWithPasskey(test, 'mfapk');
      const started = json<{ factor_id: string; secret: string }>(
        await post(test.app, '/auth/mfa/totp', {}, member.tokens.access_token),
      );
      await post(
        test.app,
        `/auth/mfa/totp/${started.factor_id}/confirm`,
        { code: totpAt(started.secret, test.clock.now()) },
        member.tokens.access_token,
      );
      const passwordStep = async () =>
        json<{ mfa_token: string }>(await post(test.app, '/auth/login', member.credentials)).mfa_token;

      const mfaToken = await passwordStep();
      const options = await loginOptions(test.app, { mfa_token: mfaToken });
      assert.deepEqual(
        options.allowCredentials?.map((c) => c.id),
        [member.passkeyId],
      );
      const both = await post(test.app, '/auth/mfa/verify', {
        mfa_token: mfaToken,
        code: '123456',
        passkey_response: member.authenticator.get(options),
      });
      assert.equal(both.statusCode, 400);
      assert.deepEqual(json(both).details, [{ field: 'passkey_response', problem: 'not_allowed' }]);

      // A sign-in challenge does not answer an MFA step, nor one step's challenge another's.
      const otherToken = await passwordStep();
      const wrongStep = await post(test.app, '/auth/mfa/verify', {
        mfa_token: otherToken,
        passkey_response: member.authenticator.get(await loginOptions(test.app, { mfa_token: mfaToken })),
      });
      assert.equal(json(wrongStep).error, 'invalid_mfa_code');
      const signInChallenge = await post(test.app, '/auth/mfa/verify', {
        mfa_token: mfaToken,
        passkey_response: member.authenticator.get(await loginOptions(test.app)),
      });
      assert.equal(json(signInChallenge).error, 'invalid_mfa_code');

      const verified = await post(test.app, '/auth/mfa/verify', {
        mfa_token: mfaToken,
        passkey_response: member.authenticator.get(await loginOptions(test.app, { mfa_token: mfaToken })),
      });
      assert.equal(verified.statusCode, 200, verified.body);
      const claims = decodeJwt(json<{ tokens: Tokens }>(verified).tokens.access_token).payload;
      assert.equal(claims.aal, 2);
      assert.deepEqual(claims.amr, ['pwd', 'hwk']);

      const spent = await post(test.app, '/auth/passkeys/login/options', { mfa_token: mfaToken });
      assert.equal(json(spent).error, 'invalid_token', 'a used mfa_token gives no options');
    });

    it('renames and removes passkeys: removal needs a fresh aal 2 token, and never takes the last way to sign in', async (t) => {
      const test = await startApp(t, engine, { env: ENV });
      const member = await memberWithPasskey(test, 'manage');
      const stranger = await memberWithPasskey(test, 'stranger');
      const patch = (id: string, name: string, token: string) =>
        test.app.inject({
          method: 'PATCH',
          url: `/auth/passkeys/${encodeURIComponent(id)}`,
          payload: { name },
          headers: bearer(token),
        });
      const remove = (id: string, token: string) =>
        test.app.inject({ method: 'DELETE', url: `/auth/passkeys/${encodeURIComponent(id)}`, headers: bearer(token) });

      assert.equal((await patch(member.passkeyId, '  Phone  ', member.tokens.access_token)).statusCode, 200);
      assert.equal((await patch(member.passkeyId, '   ', member.tokens.access_token)).statusCode, 400);
      assert.equal((await patch(stranger.passkeyId, 'Mine now', member.tokens.access_token)).statusCode, 404);
      const listed = json<{ passkeys: { name: string }[] }>(
        await test.app.inject({ method: 'GET', url: '/auth/passkeys', headers: bearer(member.tokens.access_token) }),
      );
      assert.equal(listed.passkeys[0]?.name, 'Phone');

      assert.equal(json(await remove(member.passkeyId, member.tokens.access_token)).error, 'mfa_required');
      const strong = json<{ tokens: Tokens }>(
        await post(test.app, '/auth/passkeys/login', {
          response: member.authenticator.get(await loginOptions(test.app)),
        }),
      ).tokens;
      assert.equal((await remove(stranger.passkeyId, strong.access_token)).statusCode, 404, "another user's passkey");

      // A second passkey, then an account whose password cannot be used (an imported hash of
      // an unknown kind): the first may go, the last may not.
      const second = member.authenticator.create(await registrationOptions(test.app, strong.access_token));
      assert.equal(
        (await post(test.app, '/auth/passkeys/register', { response: second }, strong.access_token)).statusCode,
        201,
      );
      await sqlOutsideTessera(
        test.databaseUrl,
        test.databaseUrl.startsWith('sqlite:')
          ? "update users set password_hash = 'legacy$unknown' where id = ?"
          : "update users set password_hash = 'legacy$unknown' where id = $1",
        [member.userId],
      );
      const fresh = json<{ tokens: Tokens }>(
        await post(test.app, '/auth/passkeys/login', {
          response: member.authenticator.get(await loginOptions(test.app), { credentialId: second.id }),
        }),
      ).tokens;
      assert.equal((await remove(member.passkeyId, fresh.access_token)).statusCode, 200);
      const last = await remove(second.id, fresh.access_token);
      assert.equal(last.statusCode, 403, last.body);
      assert.equal(json(last).error, 'forbidden');
      const left = json<{ passkeys: { id: string }[] }>(
        await test.app.inject({ method: 'GET', url: '/auth/passkeys', headers: bearer(fresh.access_token) }),
      );
      assert.deepEqual(
        left.passkeys.map((p) => p.id),
        [second.id],
      );
      assert.deepEqual((await auditTypes(test, member.userId)).filter((type) => type.startsWith('passkey')).sort(), [
        'passkey.added',
        'passkey.added',
        'passkey.removed',
        'passkey.renamed',
      ]);

      // A removed passkey no longer signs in.
      const gone = await post(test.app, '/auth/passkeys/login', {
        response: member.authenticator.get(await loginOptions(test.app), { credentialId: member.passkeyId }),
      });
      assert.equal(json(gone).error, 'invalid_passkey');
    });
  });
}
