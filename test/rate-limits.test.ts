import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ENGINES } from './engines.js';
import { bearer, json, newCredentials, PASSWORD, register, signUp, startApp, type Tokens } from './helpers.js';

const attempt = (app: FastifyInstance, username: string, password: string, remoteAddress = '10.0.0.1', headers = {}) =>
  app.inject({ method: 'POST', url: '/auth/login', payload: { username, password }, remoteAddress, headers });

for (const engine of ENGINES) {
  describe(`brute-force limits [${engine}]`, () => {
    it('after 10 failures for one account from one address: 429 with Retry-After, even with the right password', async (t) => {
      const { app } = await startApp(t, engine);
      const c = newCredentials();
      await register(app, c);
      for (let i = 0; i < 10; i++) assert.equal((await attempt(app, c.username, 'wrong password')).statusCode, 401);
      const locked = await attempt(app, c.username, PASSWORD);
      assert.equal(locked.statusCode, 429);
      assert.equal(json(locked).error, 'too_many_attempts');
      const retryAfter = Number(locked.headers['retry-after']);
      assert.ok(retryAfter > 0 && retryAfter <= 900, `Retry-After ${retryAfter}`);
      assert.equal(
        (await attempt(app, c.username, PASSWORD, '10.0.0.2')).statusCode,
        200,
        'a stranger cannot lock the user out from elsewhere',
      );
    });

    it("the lock lifts when its 15-minute window ends, and a success clears that address's failures", async (t) => {
      const { app, clock } = await startApp(t, engine);
      clock.ms = Math.ceil(clock.ms / 900_000) * 900_000; // the start of a window
      const c = newCredentials();
      await register(app, c);
      for (let i = 0; i < 9; i++) await attempt(app, c.username, 'wrong password');
      assert.equal((await attempt(app, c.username, PASSWORD)).statusCode, 200);
      for (let i = 0; i < 9; i++)
        assert.equal((await attempt(app, c.username, 'wrong password')).statusCode, 401, 'the count started again');
      await attempt(app, c.username, 'wrong password');
      assert.equal((await attempt(app, c.username, PASSWORD)).statusCode, 429);
      clock.advance(15 * 60);
      assert.equal((await attempt(app, c.username, PASSWORD)).statusCode, 200);
    });

    it('caps failures per account across all addresses', async (t) => {
      const { app } = await startApp(t, engine, { env: { LOGIN_FAILURES_PER_ACCOUNT: '12' } });
      const c = newCredentials();
      await register(app, c);
      for (let i = 0; i < 12; i++) await attempt(app, c.username, 'wrong password', `10.1.0.${i}`);
      const response = await attempt(app, c.username, PASSWORD, '10.9.9.9');
      assert.equal(response.statusCode, 429);
      assert.equal(json(response).error, 'too_many_attempts');
    });

    it('counts unknown accounts exactly like real ones, so a 429 reveals nothing', async (t) => {
      const { app } = await startApp(t, engine);
      const known = newCredentials();
      await register(app, known);
      const answers: [number[], number[]] = [[], []];
      for (let i = 0; i < 11; i++) {
        answers[0].push((await attempt(app, known.username, 'wrong password')).statusCode);
        answers[1].push((await attempt(app, 'nobody-at-all', 'wrong password')).statusCode);
      }
      assert.deepEqual(answers[0], answers[1]);
      assert.equal(answers[0].at(-1), 429);
    });

    it('limits requests per address on register and login', async (t) => {
      const { app } = await startApp(t, engine, { env: { RATE_LIMIT_PER_IP: '3' } });
      for (let i = 0; i < 3; i++) {
        assert.equal(
          (
            await app.inject({
              method: 'POST',
              url: '/auth/register',
              payload: newCredentials(),
              remoteAddress: '10.2.0.1',
            })
          ).statusCode,
          201,
        );
      }
      const over = await app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: newCredentials(),
        remoteAddress: '10.2.0.1',
      });
      assert.equal(over.statusCode, 429);
      assert.ok(Number(over.headers['retry-after']) >= 1);
      assert.equal(
        (
          await app.inject({
            method: 'POST',
            url: '/auth/register',
            payload: newCredentials(),
            remoteAddress: '10.2.0.2',
          })
        ).statusCode,
        201,
      );
    });

    it('counts only failed refreshes per address: many sessions behind one address refresh freely', async (t) => {
      const { app, clock } = await startApp(t, engine, { env: { RATE_LIMIT_PER_IP: '3' } });
      const office = [await signUp(app), await signUp(app), await signUp(app)];
      const refresh = (token: string, remoteAddress: string) =>
        app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(token), remoteAddress });
      let heads = office.map((member) => member.tokens.refresh_token);
      for (let round = 0; round < 2; round++) {
        const answers = await Promise.all(heads.map((head) => refresh(head, '10.2.0.4')));
        assert.deepEqual(
          answers.map((a) => a.statusCode),
          [200, 200, 200],
          'six refreshes from one address, limit 3',
        );
        heads = answers.map((a) => json<Tokens>(a).refresh_token);
        clock.advance(1); // past REFRESH_MIN_INTERVAL_MS
      }
      const forged = `${heads[0]?.slice(0, -4)}AAAA`;
      for (let i = 0; i < 3; i++) assert.equal((await refresh(forged, '10.2.0.3')).statusCode, 401);
      const over = await refresh(forged, '10.2.0.3');
      assert.equal(over.statusCode, 429);
      assert.equal(json(over).error, 'too_many_attempts');
      assert.ok(Number(over.headers['retry-after']) >= 1);
      const resume = await app.inject({
        method: 'GET',
        url: '/auth/resume',
        headers: { cookie: `tessera-refresh=${forged}` },
        remoteAddress: '10.2.0.3',
      });
      assert.equal(resume.statusCode, 429, 'the page that renews a session shares the count');
      // The address's failures do not lock out a session that refreshes from it.
      assert.equal((await refresh(heads[1] ?? '', '10.2.0.3')).statusCode, 200);
      assert.equal((await refresh(forged, '10.2.0.5')).statusCode, 401, 'another address is not limited');
    });

    it('believes X-Forwarded-For only with TRUST_PROXY', async (t) => {
      const untrusting = await startApp(t, engine, { env: { RATE_LIMIT_PER_IP: '2' } });
      const trusting = await startApp(t, engine, { env: { RATE_LIMIT_PER_IP: '2', TRUST_PROXY: 'true' } });
      const burst = async (app: FastifyInstance) => {
        const codes: number[] = [];
        for (let i = 0; i < 4; i++) {
          const response = await attempt(app, 'someone', 'wrong password', '127.0.0.1', {
            'x-forwarded-for': `203.0.113.${i}`,
          });
          codes.push(response.statusCode);
        }
        return codes;
      };
      assert.deepEqual(
        await burst(untrusting.app),
        [401, 401, 429, 429],
        'a client cannot dodge the limit by inventing addresses',
      );
      assert.deepEqual(
        await burst(trusting.app),
        [401, 401, 401, 401],
        'behind a trusted proxy, each client has its own bucket',
      );
      const session = await signUp(trusting.app);
      assert.ok(session.tokens.access_token);
    });
  });
}
