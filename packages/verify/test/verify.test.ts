/**
 * @tessera/verify against a real Tessera (the app on a port, SQLite, EdDSA keys): sample
 * resource servers on Fastify and Express; a token revoked on Tessera is refused by the feed
 * verifier once the feed has told it, and by the introspecting one at once; a key rotation is
 * followed; with Tessera down, a verifier refuses rather than accepts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { rotateKeys } from '../../../src/tokens/key-source.js';
import {
  bearer,
  eventually,
  json,
  login,
  newCredentials,
  register,
  signUp,
  startApp,
  type TestApp,
} from '../../../test/helpers.js';
import { createVerifier, tesseraExpress, tesseraFastify, type Verifier, VerifyError } from '../src/index.js';

const CLIENT = { id: 'rs_orders', secret: 'tsk_orders-service-secret-for-tests' };

async function tessera(t: { after(fn: () => unknown): void }, options: { sameStoreAs?: TestApp } = {}) {
  const test = await startApp(t, 'sqlite', { env: { JWT_ALGORITHM: 'EdDSA' }, ...options });
  if (!options.sameStoreAs) {
    await test.stores.apiClients.insert({
      id: CLIENT.id,
      name: 'orders',
      secretHash: createHash('sha256').update(CLIENT.secret).digest('hex'),
      createdAt: Date.now(),
    });
  }
  await test.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(test.app.server.address() as AddressInfo).port}`;
  return { test, url };
}

function verifierFor(
  url: string,
  revocation: 'feed' | 'introspect' | 'none',
  t: { after(fn: () => unknown): void },
): Verifier {
  const verifier = createVerifier({
    issuer: 'tessera',
    jwksUrl: `${url}/.well-known/jwks.json`,
    revocation,
    client: CLIENT,
  });
  t.after(() => verifier.close());
  return verifier;
}

const refusedWith = async (promise: Promise<unknown>, code: string) => {
  await assert.rejects(promise, (error: unknown) => error instanceof VerifyError && error.code === code);
};

describe('@tessera/verify', () => {
  it('protects a Fastify service: a logout on Tessera reaches it through the feed', async (t) => {
    const { test, url } = await tessera(t);
    const verifier = verifierFor(url, 'feed', t);
    const orders = Fastify();
    await orders.register(tesseraFastify(verifier));
    orders.get('/orders', async (request) => ({
      owner: (request as unknown as { tessera: { sub: string } }).tessera.sub,
    }));
    t.after(() => orders.close());
    const { tokens, userId } = await signUp(test.app);
    await verifier.ready();
    const ok = await orders.inject({ method: 'GET', url: '/orders', headers: bearer(tokens.access_token) });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(json(ok), { owner: userId });
    const none = await orders.inject({ method: 'GET', url: '/orders' });
    assert.equal(none.statusCode, 401);
    assert.equal(json(none).error, 'authorization_required');

    await test.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) });
    await eventually(
      async () =>
        (await orders.inject({ method: 'GET', url: '/orders', headers: bearer(tokens.access_token) })).statusCode ===
        401,
      'the logout to reach the service',
    );
    const refused = await orders.inject({ method: 'GET', url: '/orders', headers: bearer(tokens.access_token) });
    assert.equal(json(refused).error, 'token_revoked');
    assert.match(String(refused.headers['www-authenticate']), /^Bearer /);
  });

  it('protects an Express service; introspection refuses a revoked token at once; roles and aal are checked', async (t) => {
    const { test, url } = await tessera(t);
    const verifier = verifierFor(url, 'introspect', t);
    const app = express();
    app.get('/admin', tesseraExpress(verifier, { roles: ['admin'] }), (_req, res) => {
      res.json({ ok: true });
    });
    app.get('/me', tesseraExpress(verifier), (req, res) => {
      res.json({ sub: (req as unknown as { tessera: { sub: string } }).tessera.sub });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { tokens, userId } = await signUp(test.app);
    const me = await fetch(`${base}/me`, { headers: bearer(tokens.access_token) });
    assert.deepEqual(await me.json(), { sub: userId });
    const admin = await fetch(`${base}/admin`, { headers: bearer(tokens.access_token) });
    assert.equal(admin.status, 403);
    assert.equal(((await admin.json()) as { error: string }).error, 'forbidden');
    await refusedWith(verifier.verify(tokens.access_token, { aal: 2 }), 'mfa_required');

    await test.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) });
    const revoked = await fetch(`${base}/me`, { headers: bearer(tokens.access_token) });
    assert.equal(revoked.status, 401, 'the very next request after the logout');
    await refusedWith(verifier.verify('not.a.token'), 'invalid_token');
    await refusedWith(verifier.verify(tokens.refresh_token), 'invalid_token');
  });

  it('follows a key rotation, and refuses rather than accepts when Tessera is down', async (t) => {
    const first = await tessera(t);
    const feed = verifierFor(first.url, 'feed', t);
    // A load balancer in front of the instances: after the rotation it sends to one that has
    // loaded the new key (running instances do so within 10 seconds).
    let target = first.url;
    const balancer = createServer((request, response) => {
      fetch(`${target}${request.url}`).then(
        async (answer) =>
          response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text()),
        () => response.writeHead(502).end(),
      );
    });
    await new Promise<void>((resolve) => balancer.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => balancer.close(resolve)));
    const signatureOnly = verifierFor(`http://127.0.0.1:${(balancer.address() as AddressInfo).port}`, 'none', t);
    const credentials = newCredentials('rotation');
    await register(first.test.app, credentials);
    const before = await login(first.test.app, credentials);
    await signatureOnly.verify(before.access_token);
    rotateKeys(first.test.config, Date.now());
    // A new instance on the same data signs with the new key; the verifier fetches the JWKS again.
    const second = await tessera(t, { sameStoreAs: first.test });
    target = second.url;
    const after = await login(second.test.app, credentials);
    assert.notEqual(
      JSON.parse(Buffer.from(after.access_token.split('.')[0] ?? '', 'base64url').toString()).kid,
      JSON.parse(Buffer.from(before.access_token.split('.')[0] ?? '', 'base64url').toString()).kid,
    );
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the JWKS refetch cooldown
    await signatureOnly.verify(after.access_token);
    await signatureOnly.verify(before.access_token);

    await feed.ready();
    await feed.verify(before.access_token);
    await first.test.app.close();
    // The feed is gone with it: the verifier asks Tessera, which does not answer either.
    await eventually(async () => {
      try {
        await feed.verify(before.access_token);
        return false;
      } catch (error) {
        return error instanceof VerifyError && error.code === 'unavailable';
      }
    }, 'a refusal while Tessera is down');
  });

  it('with the feed unreachable, asks Tessera on every call: a revoked token is refused at once', async (t) => {
    const { test, url } = await tessera(t);
    let feedTries = 0;
    const verifier = createVerifier({
      issuer: 'tessera',
      jwksUrl: `${url}/.well-known/jwks.json`,
      revocation: 'feed',
      client: CLIENT,
      // A network path on which the feed never gets through, but introspection does.
      fetch: (input, init) => {
        if (String(input).includes('/auth/revocations')) {
          feedTries++;
          return Promise.reject(new TypeError('fetch failed'));
        }
        return fetch(input, init);
      },
    });
    t.after(() => verifier.close());
    const { tokens } = await signUp(test.app);
    assert.equal((await verifier.verify(tokens.access_token)).jti.length > 0, true);
    await test.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) });
    await refusedWith(verifier.verify(tokens.access_token), 'token_revoked');
    assert.ok(feedTries >= 1, 'the feed was tried');
  });
});
