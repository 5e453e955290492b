import assert from 'node:assert/strict';
import {
  createHmac,
  createPublicKey,
  sign as cryptoSign,
  generateKeyPairSync,
  type JsonWebKey,
  verify,
} from 'node:crypto';
import { describe, it } from 'node:test';
import { createCore } from '../src/core/create-core.js';
import { rotateKeys } from '../src/tokens/key-source.js';
import { bearer, decodeJwt, json, signUp, startApp, whoami } from './helpers.js';

type Jwks = { keys: (JsonWebKey & { kid: string; alg: string; use: string })[] };

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Checks a JWT's signature against a published JWK with node:crypto alone. */
function verifiesWith(token: string, jwk: JsonWebKey): boolean {
  const [h = '', p = '', s = ''] = token.split('.');
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const alg = decodeJwt(token).header.alg;
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, 'base64url');
  if (alg === 'EdDSA') return verify(null, data, key, signature);
  if (alg === 'ES256') return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  return verify('sha256', data, key, signature);
}

for (const algorithm of ['EdDSA', 'ES256', 'RS256'] as const) {
  describe(`asymmetric keys [${algorithm}]`, () => {
    it('signs with a kid that the JWKS publishes, and the published key verifies the token', async (t) => {
      const { app } = await startApp(t, 'sqlite', { env: { JWT_ALGORITHM: algorithm } });
      const { tokens } = await signUp(app);
      const { header } = decodeJwt(tokens.access_token);
      assert.equal(header.alg, algorithm);
      const response = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['cache-control'], 'public, max-age=300');
      const { keys } = json<Jwks>(response);
      assert.equal(keys.length, 1);
      assert.equal(keys[0]?.kid, header.kid);
      assert.equal(keys[0]?.alg, algorithm);
      assert.equal(keys[0]?.use, 'sig');
      assert.equal((keys[0] as Record<string, unknown>).d, undefined, 'never the private part');
      assert.ok(verifiesWith(tokens.access_token, keys[0] as JsonWebKey));
      assert.equal((await whoami(app, tokens.access_token)).statusCode, 200);
    });

    it('rotation: old tokens stay valid, new ones use the new key, and the old key drops out once its tokens have expired', async (t) => {
      const first = await startApp(t, 'sqlite', { env: { JWT_ALGORITHM: algorithm, REFRESH_TOKEN_TTL: '1d' } });
      const before = await signUp(first.app);
      const oldKid = decodeJwt(before.tokens.access_token).header.kid;
      const { kid: newKid } = rotateKeys(first.config, first.clock.now());
      assert.notEqual(newKid, oldKid);

      const second = await startApp(t, 'sqlite', {
        env: { JWT_ALGORITHM: algorithm, REFRESH_TOKEN_TTL: '1d' },
        sameStoreAs: first,
      });
      assert.equal(
        (await whoami(second.app, before.tokens.access_token)).statusCode,
        200,
        'a token from the old key still works',
      );
      const refreshed = await second.app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(before.tokens.refresh_token),
      });
      assert.equal(refreshed.statusCode, 200, 'so does a refresh token from the old key');
      assert.equal(decodeJwt(json<{ access_token: string }>(refreshed).access_token).header.kid, newKid);
      const published = json<Jwks>(await second.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).keys.map(
        (k) => k.kid,
      );
      assert.deepEqual(published.sort(), [oldKid, newKid].sort());

      second.clock.advance(86400 + 1);
      rotateKeys(second.config, second.clock.now());
      const third = await startApp(t, 'sqlite', {
        env: { JWT_ALGORITHM: algorithm, REFRESH_TOKEN_TTL: '1d' },
        sameStoreAs: first,
      });
      const after = json<Jwks>(await third.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).keys.map(
        (k) => k.kid,
      );
      assert.ok(!after.includes(String(oldKid)), 'the first key is gone once no token it signed can be alive');
      assert.ok(after.includes(newKid), 'the second key still verifies its tokens');
    });
  });
}

describe('keys: refusals and reloads', () => {
  it('refuses HS/RS confusion, a foreign key, an unknown kid and an algorithm other than the configured one', async (t) => {
    const { app, clock } = await startApp(t, 'sqlite', { env: { JWT_ALGORITHM: 'RS256' } });
    const { tokens } = await signUp(app);
    const { header, payload } = decodeJwt(tokens.access_token);
    const jwk = json<Jwks>(await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).keys[0] as JsonWebKey;
    const publicPem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const hmacWithPublicKey = (() => {
      const input = `${b64({ ...header, alg: 'HS256' })}.${b64(payload)}`;
      return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`;
    })();
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signedByAttacker = (extraHeader: Record<string, unknown>) => {
      const input = `${b64({ ...header, ...extraHeader })}.${b64({ ...payload, roles: ['admin'] })}`;
      return `${input}.${cryptoSign('sha256', Buffer.from(input), attacker.privateKey).toString('base64url')}`;
    };
    const ed = generateKeyPairSync('ed25519');
    const edInput = `${b64({ alg: 'EdDSA', typ: 'JWT', kid: header.kid })}.${b64(payload)}`;
    const edToken = `${edInput}.${cryptoSign(null, Buffer.from(edInput), ed.privateKey).toString('base64url')}`;
    const now = Math.floor(clock.now() / 1000);
    assert.ok(now > 0);
    for (const token of [
      hmacWithPublicKey,
      signedByAttacker({}),
      signedByAttacker({ jwk: attacker.publicKey.export({ format: 'jwk' }) }),
      signedByAttacker({ jku: 'http://127.0.0.1:1/jwks.json' }),
      signedByAttacker({ x5u: 'http://127.0.0.1:1/cert.pem' }),
      signedByAttacker({ kid: 'no-such-key' }),
      signedByAttacker({ kid: '../../../../etc/passwd' }),
      edToken,
    ]) {
      const response = await whoami(app, token);
      assert.equal(response.statusCode, 401);
      assert.equal(json(response).error, 'invalid_token');
    }
  });

  it('publishes no keys with HS256, and a running core picks up a rotation by itself', async (t) => {
    const hs = await startApp(t, 'sqlite');
    assert.deepEqual(json(await hs.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })), { keys: [] });

    const test = await startApp(t, 'sqlite', { env: { JWT_ALGORITHM: 'EdDSA' } });
    const core = await createCore({ config: test.config, stores: test.stores, clock: test.clock });
    assert.equal(core.reloadKeysIfChanged(), false);
    const before = core.tokens.jwks().map((k) => k.kid);
    await new Promise((r) => setTimeout(r, 20)); // a distinct file modification time
    const { kid } = rotateKeys(test.config, test.clock.now());
    assert.equal(core.reloadKeysIfChanged(), true);
    assert.deepEqual(
      core.tokens
        .jwks()
        .map((k) => k.kid)
        .sort(),
      [...before, kid].sort(),
    );
  });
});
