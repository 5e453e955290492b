import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import { bearer, decodeJwt, json, SECRET, signUp, startApp, whoami } from './helpers.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs header.payload with HMAC-SHA256 over SECRET, as an attacker who knows nothing else cannot. */
function hs256(header: Record<string, unknown>, payload: Record<string, unknown>, secret = SECRET): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

for (const engine of ENGINES) {
  describe(`access tokens [${engine}]`, () => {
    it('whoami answers the Flask fields plus id, roles and created_at', async (t) => {
      const { app, clock } = await startApp(t, engine);
      const { tokens, credentials, userId } = await signUp(app);
      const response = await whoami(app, tokens.access_token);
      assert.equal(response.statusCode, 200);
      assert.deepEqual(json(response), {
        message: 'Whoami successful',
        user_details: {
          id: userId,
          username: credentials.username,
          email: credentials.email,
          roles: [],
          email_verified: false,
          created_at: new Date(clock.now()).toISOString(),
        },
      });
    });

    it('asks for a token with 401 authorization_required and a Bearer challenge', async (t) => {
      const { app } = await startApp(t, engine);
      for (const headers of [
        {},
        { authorization: '' },
        { authorization: 'Basic dXNlcjpwYXNz' },
        { authorization: 'Bearer' },
        { authorization: 'Token abc' },
      ]) {
        const response = await app.inject({ method: 'GET', url: '/auth/whoami', headers });
        assert.equal(response.statusCode, 401, JSON.stringify(headers));
        assert.equal(json(response).error, 'authorization_required');
        assert.match(String(response.headers['www-authenticate']), /^Bearer realm="tessera"/);
      }
    });

    it('refuses malformed, tampered and foreign tokens as invalid_token', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const { header, payload } = decodeJwt(tokens.access_token);
      const [h, p, s] = tokens.access_token.split('.') as [string, string, string];
      const bad = [
        'not-a-jwt',
        'a.b.c',
        `${h}.${p}`,
        `${h}.${p}.`,
        `${h}.${b64({ ...payload, sub: 'someone-else' })}.${s}`,
        `${h}.${p}.${s.slice(0, -2)}xx`,
        hs256(header, payload, 'another-secret-entirely-another-secret-entirely'),
        hs256({ ...header, alg: 'HS512' }, payload),
        `${b64({ alg: 'none', typ: 'JWT', kid: header.kid })}.${p}.`,
        `${b64({ alg: 'None', typ: 'JWT', kid: header.kid })}.${p}.`,
        hs256({ ...header, kid: 'unknown-key' }, payload),
        hs256({ alg: 'HS256', typ: 'JWT' }, payload),
        hs256(header, { ...payload, jti: undefined }),
        hs256(header, { ...payload, exp: undefined }),
        hs256(header, { ...payload, type: 'id' }),
        hs256(header, { ...payload, iss: 'someone-else' }),
        hs256(header, { ...payload, sid: 12 }),
        `${h}.${'A'.repeat(9000)}.${s}`,
      ];
      for (const token of bad) {
        const response = await whoami(app, token);
        assert.equal(response.statusCode, 401, token.slice(0, 60));
        assert.equal(json(response).error, 'invalid_token', token.slice(0, 60));
        assert.match(String(response.headers['www-authenticate']), /error="invalid_token"/);
      }
    });

    it('accepts a token only for its own type', async (t) => {
      const { app } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const asAccess = await whoami(app, tokens.refresh_token);
      assert.equal(asAccess.statusCode, 401);
      assert.equal(json(asAccess).error, 'invalid_token');
      const asRefresh = await app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(tokens.access_token),
      });
      assert.equal(asRefresh.statusCode, 401);
      assert.equal(json(asRefresh).error, 'invalid_token');
    });

    it('expires at exp, with the configured leeway, and is not valid before nbf', async (t) => {
      const { app, clock } = await startApp(t, engine);
      const { tokens } = await signUp(app);
      const { header, payload } = decodeJwt(tokens.access_token);
      clock.advance(900 + 4);
      assert.equal((await whoami(app, tokens.access_token)).statusCode, 200, 'inside the 5 s leeway');
      clock.advance(1);
      const expired = await whoami(app, tokens.access_token);
      assert.equal(expired.statusCode, 401);
      assert.equal(json(expired).error, 'token_expired');

      const now = Math.floor(clock.now() / 1000);
      const early = hs256(header, { ...payload, iat: now, nbf: now + 60, exp: now + 600 });
      assert.equal(json(await whoami(app, early)).error, 'invalid_token');
      const future = hs256(header, { ...payload, iat: now + 60, nbf: now, exp: now + 600 });
      assert.equal(json(await whoami(app, future)).error, 'invalid_token');
    });

    it('refuses a token whose user no longer exists as invalid_token', async (t) => {
      const { app, stores } = await startApp(t, engine);
      const { tokens, userId } = await signUp(app);
      await stores.users.delete(userId);
      const response = await whoami(app, tokens.access_token);
      assert.equal(response.statusCode, 401);
      assert.equal(json(response).error, 'invalid_token');
    });
  });
}
