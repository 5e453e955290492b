/**
 * What resource servers get: introspection (RFC 7662) that answers `{active: false}` and nothing
 * more for every token that is not a live access token; client credentials checked, limited per
 * client; and the Server-Sent Events feed of whom revocations concern, resumable from a cursor.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import { bearer, decodeJwt, json, SECRET, signUp, startApp, type TestApp } from './helpers.js';

const CLIENT_ID = 'rs_test';
const CLIENT_SECRET = 'tsk_test-secret-for-the-resource-server-tests';

async function withClient(test: TestApp) {
  await test.stores.apiClients.insert({
    id: CLIENT_ID,
    name: 'orders-service',
    secretHash: createHash('sha256').update(CLIENT_SECRET).digest('hex'),
    createdAt: test.clock.now(),
  });
}

const basic = (id = CLIENT_ID, secret = CLIENT_SECRET) => ({
  authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
});

const introspect = (test: TestApp, token: string, headers: Record<string, string> = basic()) =>
  test.app.inject({
    method: 'POST',
    url: '/auth/introspect',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ token }).toString(),
  });

/** Reads Server-Sent Events from a real connection. */
async function follow(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  assert.equal(response.status, 200);
  assert.match(String(response.headers.get('content-type')), /^text\/event-stream/);
  const events: { event: string; id: string; data: Record<string, unknown> }[] = [];
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = (await reader?.read()) ?? { done: true, value: undefined };
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) =>
            /^(\w+): ?(.*)$/gm.exec(block) &&
            block
              .split('\n')
              .find((l) => l.startsWith(`${name}:`))
              ?.slice(name.length + 1)
              .trim();
          const event = field('event');
          if (event) events.push({ event, id: field('id') ?? '', data: JSON.parse(field('data') ?? '{}') });
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted
    }
  })();
  const until = async (match: (e: (typeof events)[number]) => boolean, what: string) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = events.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} event (got ${events.map((e) => e.event).join(', ')})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { events, until, close: () => controller.abort() };
}

for (const engine of ENGINES) {
  describe(`resource servers [${engine}]`, () => {
    it('introspection: a live access token is active; anything else is exactly {active: false}', async (t) => {
      const test = await startApp(t, engine);
      await withClient(test);
      const { tokens, credentials } = await signUp(test.app);
      const live = await introspect(test, tokens.access_token);
      assert.equal(live.statusCode, 200);
      const body = json(live);
      assert.deepEqual(
        [body.active, body.username, body.token_type, body.aal, body.client_id],
        [true, credentials.username, 'access', 1, CLIENT_ID],
      );
      const asJson = await test.app.inject({
        method: 'POST',
        url: '/auth/introspect',
        headers: basic(),
        payload: { token: tokens.access_token },
      });
      assert.equal(json(asJson).active, true, 'JSON is taken too');

      const foreign = await startApp(t, 'sqlite', { env: { SECRET_KEY: `${SECRET}-another-deployment` } });
      const foreignToken = (await signUp(foreign.app)).tokens.access_token;
      for (const [what, token] of [
        ['a refresh token', tokens.refresh_token],
        ['malformed', 'not.a.token'],
        ['foreign', foreignToken],
        ['garbage', 'x'.repeat(5000)],
      ] as const) {
        const answer = await introspect(test, token);
        assert.equal(answer.statusCode, 200, what);
        assert.deepEqual(json(answer), { active: false }, what);
      }
      await test.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) });
      assert.deepEqual(json(await introspect(test, tokens.access_token)), { active: false }, 'after logout');
      const other = await signUp(test.app);
      test.clock.advance(test.config.jwt.accessTtlSeconds + test.config.jwt.leewaySeconds + 1);
      assert.deepEqual(json(await introspect(test, other.tokens.access_token)), { active: false }, 'expired');
    });

    it('checks the client, and limits each one', async (t) => {
      const test = await startApp(t, engine, { env: { RATE_LIMIT_PER_CLIENT: '3' } });
      await withClient(test);
      const { tokens } = await signUp(test.app);
      for (const headers of [
        {},
        basic(CLIENT_ID, 'wrong'),
        basic('rs_nobody', CLIENT_SECRET),
        { authorization: 'Basic !!!' },
      ]) {
        const refused = await introspect(test, tokens.access_token, headers);
        assert.equal(refused.statusCode, 401);
        assert.equal(json(refused).error, 'invalid_client');
        assert.match(String(refused.headers['www-authenticate']), /^Basic /);
      }
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await introspect(test, tokens.access_token)).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
    });

    it('the feed tells of a logout at once, resumes from a cursor, and resets when the cursor is too old', async (t) => {
      const test = await startApp(t, engine);
      await withClient(test);
      await test.app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(test.app.server.address() as AddressInfo).port}`;
      const { tokens, userId } = await signUp(test.app);
      const feed = await follow(`${base}/auth/revocations`, basic());
      t.after(() => feed.close());
      const ready = await feed.until((e) => e.event === 'ready', 'ready');
      await test.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) });
      const revoked = await feed.until((e) => e.event === 'revoked', 'revoked');
      assert.ok((revoked.data.subjects as string[]).includes(userId));
      const sid = String(decodeJwt(tokens.access_token).payload.sid);
      assert.ok((revoked.data.subjects as string[]).includes(sid), 'the ended session is named');
      assert.ok(Number(revoked.id) > Number(ready.id));

      // A reader that missed it resumes from the cursor it had and gets the same news.
      const resumed = await follow(`${base}/auth/revocations`, { ...basic(), 'last-event-id': ready.id });
      t.after(() => resumed.close());
      const again = await resumed.until((e) => e.event === 'revoked', 'revoked on resume');
      assert.ok((again.data.subjects as string[]).includes(userId));

      // Another instance, started after those changes, has no log reaching back to cursor 0.
      const second = await startApp(t, engine, { sameStoreAs: test });
      await second.app.listen({ port: 0, host: '127.0.0.1' });
      const secondBase = `http://127.0.0.1:${(second.app.server.address() as AddressInfo).port}`;
      const stale = await follow(`${secondBase}/auth/revocations?cursor=0`, basic());
      t.after(() => stale.close());
      await stale.until((e) => e.event === 'reset', 'reset');

      const refused = await fetch(`${base}/auth/revocations`, { headers: basic(CLIENT_ID, 'wrong') });
      assert.equal(refused.status, 401);
    });
  });
}
