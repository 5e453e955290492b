/**
 * Webhooks: audit events reach the configured receivers signed per Standard Webhooks, checked
 * here by the `standardwebhooks` package (not our code); each receiver gets only the types it
 * chose; one that is down gets everything, once, when it is back; the request that caused an
 * event never waits for its delivery.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { WEBHOOK_TOPIC } from '../src/webhooks/webhooks.js';
import { ENGINES } from './engines.js';
import { eventually, firstTriesRecorded, login, newCredentials, register, startApp, type Teardown } from './helpers.js';

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  event: { type: string; timestamp: string; data: Record<string, unknown> };
}

/** A receiver on a fixed port that can go down (503 or closed) and come back. */
async function receiver(t: Teardown, secret: string) {
  const webhook = new Webhook(secret);
  const received: Delivery[] = [];
  /** 200 verifies and records; another status refuses; 0 holds the request open unanswered. */
  let answering = 200;
  let hanging = 0;
  const listen = (server: Server, port = 0) =>
    new Promise<number>((resolve) =>
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );
  const make = () =>
    createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        if (answering === 0) {
          hanging++;
          return;
        }
        if (answering !== 200) {
          response.writeHead(answering).end();
          return;
        }
        // Throws unless the signature, id and timestamp are right.
        const event = webhook.verify(body, request.headers as Record<string, string>) as Delivery['event'];
        received.push({ headers: request.headers, body, event });
        response.writeHead(204).end();
      });
    });
  let server = make();
  const port = await listen(server);
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    answer(status: number) {
      answering = status;
    },
    hanging: () => hanging,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
    async start() {
      server = make();
      await listen(server, port);
    },
  };
}

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

for (const engine of ENGINES.filter((e) => e !== 'postgres+redis')) {
  describe(`webhooks [${engine}]`, () => {
    it('delivers chosen events signed per Standard Webhooks, verified by another implementation', async (t) => {
      const [allSecret, failuresSecret] = [newSecret(), newSecret()];
      const all = await receiver(t, allSecret);
      const failures = await receiver(t, failuresSecret);
      const test = await startApp(t, engine, {
        env: { WEBHOOK_URLS: `${all.url}|${allSecret}, ${failures.url}|${failuresSecret}|login.failed` },
      });
      const credentials = newCredentials('hooked');
      const userId = await register(test.app, credentials);
      await login(test.app, credentials);
      await test.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: credentials.username, password: 'wrong one' },
      });
      await eventually(
        async () => all.received.length === 3 && failures.received.length === 1,
        'three deliveries and one',
      );
      assert.deepEqual(all.received.map((d) => d.event.type).sort(), [
        'login.failed',
        'login.succeeded',
        'user.registered',
      ]);
      assert.deepEqual(
        failures.received.map((d) => d.event.type),
        ['login.failed'],
      );
      const registered = all.received.find((d) => d.event.type === 'user.registered');
      assert.equal(registered?.event.data.user_id, userId);
      assert.match(String(registered?.headers['webhook-id']), /^[0-9a-f-]{36}$/);
      assert.equal(registered?.event.data.id, registered?.headers['webhook-id'], 'the id is the audit event id');
      assert.ok(!all.received.some((d) => d.body.includes(credentials.password)), 'no password in any payload');
      assert.throws(() =>
        new Webhook(newSecret()).verify(registered?.body ?? '', registered?.headers as Record<string, string>),
      );
    });

    it('retries a receiver that is down, and delivers everything once it is back', async (t) => {
      const secret = newSecret();
      const hook = await receiver(t, secret);
      const test = await startApp(t, engine, { env: { WEBHOOK_URLS: `${hook.url}|${secret}|user.registered` } });
      hook.answer(503);
      const first = newCredentials('while-503');
      await register(test.app, first);
      await firstTriesRecorded(test.databaseUrl, 1, WEBHOOK_TOPIC);
      assert.equal((await test.stores.outbox.pendingByTopic()).webhook, 1, 'still queued after the refusal');
      assert.equal((await test.stores.outbox.failures(1)).length, 0);
      // The receiver now takes the retry and never answers: a new request must not wait for it.
      hook.answer(0);
      test.clock.advance(60);
      await eventually(async () => hook.hanging() === 1, 'the retry held open by the receiver');
      const second = newCredentials('while-hanging');
      await register(test.app, second);
      assert.equal(hook.hanging(), 1, 'answered while the delivery was still held');
      await hook.stop();
      assert.equal(hook.received.length, 0);
      await hook.start();
      hook.answer(200);
      // Time moves on as the worker's backoff waits for it (the failed try may land after any one step).
      await eventually(
        async () => {
          test.clock.advance(30);
          return hook.received.length === 2;
        },
        'both deliveries after the return',
        20_000,
      );
      await eventually(async () => (await test.stores.outbox.counts()).pending === 0, 'nothing left');
      assert.deepEqual(
        hook.received.map((d) => d.event.type),
        ['user.registered', 'user.registered'],
      );
      const ids = new Set(hook.received.map((d) => d.headers['webhook-id']));
      assert.equal(ids.size, 2, 'each event once');
    });
  });
}
