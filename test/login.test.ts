import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import argon2 from 'argon2';
import { ENGINES } from './engines.js';
import { decodeJwt, json, newCredentials, PASSWORD, register, startApp, whoami } from './helpers.js';

for (const engine of ENGINES) {
  describe(`login [${engine}]`, () => {
    it('logs in by username, by email, and by an email sent as username', async (t) => {
      const { app } = await startApp(t, engine);
      const c = newCredentials();
      await register(app, c);
      for (const payload of [
        { username: c.username, password: PASSWORD },
        { username: c.username.toUpperCase(), password: PASSWORD },
        { email: c.email, password: PASSWORD },
        { username: c.email.toUpperCase(), password: PASSWORD },
      ]) {
        const response = await app.inject({ method: 'POST', url: '/auth/login', payload });
        assert.equal(response.statusCode, 200, JSON.stringify(payload));
        const body = json<{ message: string; tokens: Record<string, unknown> }>(response);
        assert.equal(body.message, 'Login successful');
        assert.equal(body.tokens.token_type, 'Bearer');
        assert.equal(body.tokens.expires_in, 900);
        assert.equal(typeof body.tokens.access_token, 'string');
        assert.equal(typeof body.tokens.refresh_token, 'string');
        assert.equal(response.headers['cache-control'], 'no-store');
      }
    });

    it('issues tokens with the contract claims, fresh only on the access token', async (t) => {
      const { app, clock } = await startApp(t, engine);
      const c = newCredentials();
      const userId = await register(app, c);
      const response = await app.inject({ method: 'POST', url: '/auth/login', payload: c });
      const { access_token, refresh_token } = json<{ tokens: { access_token: string; refresh_token: string } }>(
        response,
      ).tokens;
      const access = decodeJwt(access_token);
      const refresh = decodeJwt(refresh_token);
      const now = Math.floor(clock.now() / 1000);
      assert.equal(access.header.alg, 'HS256');
      assert.equal(typeof access.header.kid, 'string');
      assert.deepEqual(
        { ...access.payload, jti: 'x', sid: 'x' },
        {
          sub: userId,
          jti: 'x',
          sid: 'x',
          type: 'access',
          iat: now,
          nbf: now,
          exp: now + 900,
          fresh: true,
          roles: [],
          aal: 1,
          amr: ['pwd'],
          iss: 'tessera',
        },
      );
      assert.equal(refresh.payload.type, 'refresh');
      assert.equal(refresh.payload.exp, now + 30 * 86400);
      assert.equal(refresh.payload.sid, access.payload.sid);
      assert.notEqual(refresh.payload.jti, access.payload.jti);
      assert.equal(refresh.payload.fresh, undefined);
    });

    it('gives an unknown user and a wrong password the same 401 status, body and headers', async (t) => {
      const { app } = await startApp(t, engine);
      const c = newCredentials();
      await register(app, c);
      const wrongPassword = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: c.username, password: 'not the password' },
      });
      const unknownUser = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: 'nobody-here', password: 'not the password' },
      });
      const unknownEmail = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: 'nobody@example.com', password: 'not the password' },
      });
      for (const response of [wrongPassword, unknownUser, unknownEmail]) {
        assert.equal(response.statusCode, 401);
        assert.deepEqual(json(response), {
          error: 'invalid_credentials',
          message: 'The username or password is incorrect.',
        });
        const { date: _date, ...headers } = response.headers;
        const { date: _other, ...reference } = wrongPassword.headers;
        assert.deepEqual(headers, reference);
      }
    });

    it('checks the length of a password before hashing it', async (t) => {
      const { app } = await startApp(t, engine);
      const response = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: 'someone', password: 'x'.repeat(100_00) },
      });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(json(response).details, [{ field: 'password', problem: 'too_long' }]);
    });

    it('needs a username or email', async (t) => {
      const { app } = await startApp(t, engine);
      const response = await app.inject({ method: 'POST', url: '/auth/login', payload: { password: PASSWORD } });
      assert.equal(response.statusCode, 400);
      assert.equal(json(response).error, 'validation_failed');
    });

    it('rehashes a password stored with weaker parameters at the next successful login', async (t) => {
      const { app, stores, clock } = await startApp(t, engine);
      const c = newCredentials();
      const userId = await register(app, c);
      const user = await stores.users.findById(userId);
      const weak = await argon2.hash(PASSWORD, {
        type: argon2.argon2id,
        memoryCost: 8192,
        timeCost: 1,
        parallelism: 1,
      });
      assert.ok(user && (await stores.users.replacePasswordHash(userId, user.passwordHash, weak, clock.now())));
      const response = await app.inject({ method: 'POST', url: '/auth/login', payload: c });
      assert.equal(response.statusCode, 200);
      const after = await stores.users.findById(userId);
      assert.match(after?.passwordHash ?? '', /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      assert.ok(await argon2.verify(after?.passwordHash ?? '', PASSWORD));
    });

    it('each login opens its own session', async (t) => {
      const { app } = await startApp(t, engine);
      const c = newCredentials();
      await register(app, c);
      const first = json<{ tokens: { access_token: string } }>(
        await app.inject({ method: 'POST', url: '/auth/login', payload: c }),
      );
      const second = json<{ tokens: { access_token: string } }>(
        await app.inject({ method: 'POST', url: '/auth/login', payload: c }),
      );
      assert.notEqual(
        decodeJwt(first.tokens.access_token).payload.sid,
        decodeJwt(second.tokens.access_token).payload.sid,
      );
      assert.equal((await whoami(app, first.tokens.access_token)).statusCode, 200);
    });
  });
}
