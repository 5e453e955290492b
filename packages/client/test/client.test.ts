/**
 * @tessera/client in Node against a real Tessera on a port: sign-up, login with the MFA step,
 * sessions, a refresh and retry when the access token has expired, concurrent refreshes that
 * share one request (with no reuse grace at all on the server), and the session-end events.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { bearer, json, newCredentials, startApp } from '../../../test/helpers.js';
import { totpAt } from '../../../test/totp.js';
import { createTesseraClient, memoryStore, type SessionEndReason, TesseraError } from '../src/index.js';

async function tessera(t: { after(fn: () => unknown): void }, env: Record<string, string> = {}) {
  const test = await startApp(t, 'sqlite', { env: { REFRESH_REUSE_INTERVAL: '0', ...env } });
  await test.app.listen({ port: 0, host: '127.0.0.1' });
  return { test, url: `http://127.0.0.1:${(test.app.server.address() as AddressInfo).port}` };
}

/** Counts what the client sends, by path. */
function countingFetch() {
  const counts = new Map<string, number>();
  const wrapped = (input: Request) => {
    const path = new URL(input.url).pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    return fetch(input);
  };
  return { fetch: wrapped as typeof fetch, counts };
}

describe('@tessera/client', () => {
  it('signs up, logs in, lists and ends sessions, and logs out with an event', async (t) => {
    const { test, url } = await tessera(t);
    const client = createTesseraClient({ baseUrl: url, store: memoryStore() });
    const ended: SessionEndReason[] = [];
    client.onSessionEnd((reason) => ended.push(reason));
    const credentials = newCredentials('client');
    const created = await client.register(credentials);
    assert.match(created.user_id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(await client.login({ username: credentials.username, password: credentials.password }), {
      status: 'signed_in',
    });
    const me = await client.whoami();
    assert.equal(me.user_details.username, credentials.username);
    const elsewhere = createTesseraClient({ baseUrl: url, store: memoryStore() });
    await elsewhere.login({ email: credentials.email, password: credentials.password });
    const { sessions } = await client.sessions();
    assert.equal(sessions.length, 2);
    const other = sessions.find((s) => !s.current);
    assert.ok(other);
    await client.endSession(other.id);
    await assert.rejects(
      elsewhere.whoami(),
      (error: unknown) => error instanceof TesseraError && error.code === 'token_revoked',
    );
    await assert.rejects(
      client.login({ username: credentials.username, password: 'wrong' }),
      (error: unknown) => error instanceof TesseraError && error.status === 401 && error.code === 'invalid_credentials',
    );
    await client.changePassword({ current_password: credentials.password, new_password: 'a new client passphrase' });
    assert.equal((await client.forgotPassword(credentials.email)).message.length > 0, true);
    await client.logout();
    assert.deepEqual(ended, ['logout']);
    assert.equal(client.signedIn, false);
    assert.deepEqual(await client.login({ username: credentials.username, password: 'a new client passphrase' }), {
      status: 'signed_in',
    });
    assert.equal(client.signedIn, true);
    void test;
  });

  it('takes the MFA step, refreshes an expired token and retries, and shares concurrent refreshes', async (t) => {
    const { test, url } = await tessera(t);
    const counter = countingFetch();
    const client = createTesseraClient({ baseUrl: url, store: memoryStore(), fetch: counter.fetch });
    const credentials = newCredentials('mfaclient');
    await client.register(credentials);
    await client.login({ username: credentials.username, password: credentials.password });
    const token = await client.accessToken();
    assert.ok(token);
    const started = json<{ factor_id: string; secret: string }>(
      await test.app.inject({ method: 'POST', url: '/auth/mfa/totp', headers: bearer(token) }),
    );
    await test.app.inject({
      method: 'POST',
      url: `/auth/mfa/totp/${started.factor_id}/confirm`,
      headers: bearer(token),
      payload: { code: totpAt(started.secret, test.clock.now()) },
    });
    const step = await client.login({ username: credentials.username, password: credentials.password });
    assert.equal(step.status, 'mfa_required');
    if (step.status !== 'mfa_required') return;
    test.clock.advance(30);
    assert.deepEqual(await client.verifyMfa(step.mfaToken, { code: totpAt(started.secret, test.clock.now()) }), {
      status: 'signed_in',
    });

    // Tessera's clock passes the access token's life: the next call refreshes and retries once.
    test.clock.advance(test.config.jwt.accessTtlSeconds + test.config.jwt.leewaySeconds + 1);
    counter.counts.clear();
    assert.equal((await client.whoami()).user_details.username, credentials.username);
    assert.equal(counter.counts.get('/auth/refresh'), 1);
    assert.equal(counter.counts.get('/auth/whoami'), 2);

    // Ten refreshes at once in one process: one request, and no reuse detected (no grace here).
    test.clock.advance(1); // past REFRESH_MIN_INTERVAL_MS since the refresh above
    counter.counts.clear();
    await Promise.all(Array.from({ length: 10 }, () => client.refresh()));
    assert.equal(counter.counts.get('/auth/refresh'), 1);
    assert.equal((await client.whoami()).user_details.username, credentials.username);
  });

  it('tells when the session was ended elsewhere', async (t) => {
    const { test, url } = await tessera(t);
    const client = createTesseraClient({ baseUrl: url, store: memoryStore() });
    const ended: SessionEndReason[] = [];
    client.onSessionEnd((reason) => ended.push(reason));
    const credentials = newCredentials('revoked');
    await client.register(credentials);
    await client.login({ username: credentials.username, password: credentials.password });
    const other = createTesseraClient({ baseUrl: url, store: memoryStore() });
    await other.login({ username: credentials.username, password: credentials.password });
    await other.logout('global');
    await assert.rejects(client.whoami());
    assert.deepEqual(ended, ['revoked']);
    void test;
  });
});
