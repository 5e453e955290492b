/**
 * Prometheus metrics: on their own listener only; requests counted by route template (a scan
 * of 10,000 random paths adds no series); login, refresh, hash, revocation, store-error and
 * outbox figures move with what happens.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { listenForScrapes } from '../src/metrics/metrics.js';
import type { Stores } from '../src/store/types.js';
import {
  bearer,
  eventually,
  freePort,
  login,
  newCredentials,
  register,
  signUp,
  signUpAdmin,
  startApp,
  type TestApp,
} from './helpers.js';

async function scrape(test: TestApp): Promise<string> {
  const metrics = test.app.metrics;
  assert.ok(metrics, 'METRICS_PORT turns metrics on');
  return metrics.registry.metrics();
}

/** The value of one series, 0 when absent. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((w) => line.includes(w))) return Number(line.split(' ').at(-1));
  }
  return 0;
}

const seriesOf = (text: string, name: string) => text.split('\n').filter((line) => line.startsWith(`${name}{`)).length;

describe('metrics', () => {
  it('are off by default, never on the API, and served by their own listener', async (t) => {
    const plain = await startApp(t, 'sqlite');
    assert.equal(plain.app.metrics, undefined);
    const port = await freePort();
    const test = await startApp(t, 'sqlite', { env: { METRICS_PORT: String(port) } });
    assert.equal((await test.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
    const metrics = test.app.metrics;
    assert.ok(metrics);
    const server = await listenForScrapes(metrics.registry, '127.0.0.1', port);
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.match(text, /^# HELP tessera_http_requests_total/m);
    assert.match(text, /^process_cpu_user_seconds_total/m, 'the default process metrics');
    assert.equal((await fetch(`http://127.0.0.1:${port}/auth/login`)).status, 404);
  });

  it('count requests by route template: 10,000 random paths add no series', async (t) => {
    const test = await startApp(t, 'sqlite', { env: { METRICS_PORT: '9464', RATE_LIMIT_PER_IP: '1000000' } });
    const { tokens } = await signUpAdmin(test);
    const paths = () => [
      `/${randomBytes(6).toString('hex')}/${randomUUID()}`,
      `/users/${randomUUID()}`,
      `/auth/sessions/${randomUUID()}`,
      `/auth/mfa/totp/${randomUUID()}/confirm`,
    ];
    const hit = async (path: string, i: number) => {
      const method = (['GET', 'DELETE', 'POST'] as const)[i % 3] ?? 'GET';
      await test.app.inject({ method, url: `${path}?q=${randomUUID()}`, headers: bearer(tokens.access_token) });
    };
    // Once each, so that every series the scan can reach exists before counting.
    for (let i = 0; i < 12; i++) for (const path of paths()) await hit(path, i);
    const before = await scrape(test);
    for (let i = 0; i < 2500; i++) for (const path of paths()) await hit(path, i);
    const after = await scrape(test);
    assert.equal(seriesOf(after, 'tessera_http_requests_total'), seriesOf(before, 'tessera_http_requests_total'));
    assert.equal(
      seriesOf(after, 'tessera_http_request_duration_seconds_bucket'),
      seriesOf(before, 'tessera_http_request_duration_seconds_bucket'),
    );
    assert.ok(
      value(after, 'tessera_http_requests_total', { route: '/users/:id', method: 'GET', status_class: '4xx' }) > 800,
    );
    assert.ok(value(after, 'tessera_http_requests_total', { route: 'unmatched' }) > 0);
    assert.ok(!/route="\/users\/[0-9a-f]{8}-/.test(after), 'no raw id in any label');
  });

  it('follow logins, refreshes, hashing, revocation checks, store errors and the outbox', async (t) => {
    let failing = false;
    const refused = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const test = await startApp(t, 'sqlite', {
      ownHasher: true,
      env: {
        METRICS_PORT: '9464',
        WEBHOOK_URLS: `http://127.0.0.1:1/hook|whsec_${randomBytes(32).toString('base64')}`,
      },
      wrapStores: (stores: Stores) => ({
        ...stores,
        sessions: {
          ...stores.sessions,
          findWithUser: (id) => (failing ? refused() : stores.sessions.findWithUser(id)),
          rotate: (rotation, now) => (failing ? refused() : stores.sessions.rotate(rotation, now)),
        },
      }),
    });
    const { app } = test;
    const credentials = newCredentials('metered');
    await register(app, credentials);
    const tokens = await login(app, credentials);
    await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: credentials.username, password: 'wrong' },
    });
    await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'nobody', password: 'wrong' } });
    for (let i = 0; i < 3; i++)
      await app.inject({ method: 'GET', url: '/auth/whoami', headers: bearer(tokens.access_token) });
    await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) });
    await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) });
    test.clock.advance(test.config.refreshReuseIntervalSeconds + 1);
    await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) });

    const text = await scrape(test);
    assert.equal(value(text, 'tessera_logins_total', { outcome: 'succeeded' }), 1);
    assert.equal(value(text, 'tessera_logins_total', { outcome: 'failed', reason: 'wrong_password' }), 1);
    assert.equal(value(text, 'tessera_logins_total', { outcome: 'failed', reason: 'unknown_user' }), 1);
    assert.equal(value(text, 'tessera_refreshes_total', { outcome: 'rotated' }), 1);
    assert.equal(value(text, 'tessera_refreshes_total', { outcome: 'reused_within_window' }), 1);
    assert.equal(value(text, 'tessera_refreshes_total', { outcome: 'reuse_detected' }), 1);
    assert.equal(value(text, 'tessera_revocation_checks_total', { store: 'database' }), 1);
    assert.equal(value(text, 'tessera_revocation_checks_total', { store: 'cache' }), 2);
    assert.ok(value(text, 'tessera_password_hash_duration_seconds_count', { operation: 'hash' }) >= 1);
    assert.ok(value(text, 'tessera_password_hash_duration_seconds_count', { operation: 'verify' }) >= 3);
    assert.match(text, /^tessera_password_hash_queue_length 0$/m);
    assert.ok(value(text, 'tessera_outbox_pending', { topic: 'webhook' }) >= 1, 'webhooks to a closed port wait');

    await eventually(
      async () => value(await scrape(test), 'tessera_outbox_failures_total', { topic: 'webhook', final: 'false' }) >= 1,
      'a failed delivery counted',
    );

    const { tokens: other } = await signUp(app, 'storeerror');
    failing = true;
    test.clock.advance(test.config.jwt.accessTtlSeconds - 1);
    const unavailable = await app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: bearer(other.refresh_token),
    });
    failing = false;
    assert.equal(unavailable.statusCode, 503, unavailable.body);
    assert.equal(value(await scrape(test), 'tessera_store_errors_total', { kind: 'unavailable' }), 1);
  });
});
