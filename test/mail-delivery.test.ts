/**
 * The outbox's promises: a queued mail survives a mail server that refuses or goes away and is
 * delivered when it comes back, a refusal for good is recorded, two instances never deliver one
 * message twice, a `kill -9` after the answer loses nothing, and what waits in the table is
 * sealed. Also: MAIL_DISABLED answers 503, and without SMTP_URL mail lands in DATA_DIR/mail.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createSealer } from '../src/crypto/sealer.js';
import { createOutbox } from '../src/outbox/outbox.js';
import { createOutboxWorker, LEASE_MS, type OutboxHandler } from '../src/outbox/worker.js';
import { ENGINES } from './engines.js';
import {
  eventually,
  firstTriesRecorded,
  json,
  newCredentials,
  register,
  SECRET,
  settle,
  sqlOutsideTessera,
  startApp,
  type TestApp,
} from './helpers.js';
import { linkToken, startMailServer } from './mail-server.js';
import { post, startServer } from './server-process.js';
import { tempDir } from './temp-dir.js';

for (const engine of ENGINES) {
  describe(`mail delivery [${engine}]`, () => {
    it('a mail refused for a while (451) is retried and delivered within a minute of the server answering again', async (t) => {
      const mail = await startMailServer(t);
      const test = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      mail.refuseAll(true);
      const credentials = newCredentials('retry');
      await register(test.app, credentials);
      await firstTriesRecorded(test.databaseUrl, 1);
      assert.equal((await test.stores.outbox.counts()).pending, 1, 'still queued after the refusal');
      mail.refuseAll(false);
      test.clock.advance(60);
      await mail.waitFor((m) => m.to === credentials.email);
      await eventually(async () => (await test.stores.outbox.counts()).pending === 0, 'the entry to be done');
    });

    it('a mail server that went away entirely gets the queued mail when it is back', async (t) => {
      const mail = await startMailServer(t);
      const test = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      await mail.stop();
      const credentials = newCredentials('outage');
      await register(test.app, credentials);
      await firstTriesRecorded(test.databaseUrl, 1);
      await mail.start();
      test.clock.advance(60);
      await mail.waitFor((m) => m.to === credentials.email);
    });

    it('a recipient refused for good (550) is recorded as failed at once, and the payload is dropped', async (t) => {
      const mail = await startMailServer(t);
      const test = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      const credentials = newCredentials('bounce');
      mail.rejectRecipient(credentials.email);
      await register(test.app, credentials);
      await eventually(async () => (await test.stores.outbox.failures(10)).length === 1, 'the failure to be recorded');
      const [failure] = await test.stores.outbox.failures(10);
      assert.equal(failure?.recipient, credentials.email);
      assert.equal(failure?.attempts, 1);
      assert.match(failure?.error ?? '', /550|No such mailbox/);
      const [row] = await sqlOutsideTessera<{ payload: string | null }>(test.databaseUrl, 'select payload from outbox');
      assert.equal(row?.payload, null);
    });

    it('gives up after retrying for a day, and says so', async (t) => {
      const mail = await startMailServer(t);
      const test = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      mail.refuseAll(true);
      await register(test.app, newCredentials('giveup'));
      await firstTriesRecorded(test.databaseUrl, 1);
      test.clock.advance(24 * 3600 + 60);
      await eventually(async () => (await test.stores.outbox.failures(10)).length === 1, 'the entry to be given up');
      assert.equal((await test.stores.outbox.counts()).pending, 0);
    });

    it('what waits in the table is sealed: no link, no address in the payload', async (t) => {
      const mail = await startMailServer(t);
      const test = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      mail.refuseAll(true);
      const credentials = newCredentials('sealed');
      await register(test.app, credentials);
      const [row] = await sqlOutsideTessera<{ payload: string }>(test.databaseUrl, 'select payload from outbox');
      assert.match(row?.payload ?? '', /^v1\./);
      assert.doesNotMatch(row?.payload ?? '', /token|example\.com/);
      const [stored] = await sqlOutsideTessera<{ token_hash: string }>(
        test.databaseUrl,
        'select token_hash from link_tokens',
      );
      assert.match(stored?.token_hash ?? '', /^[0-9a-f]{64}$/);
      await firstTriesRecorded(test.databaseUrl, 1);
      mail.refuseAll(false);
      test.clock.advance(60);
      const received = await mail.waitFor((m) => m.to === credentials.email);
      assert.notEqual(stored?.token_hash, linkToken(received), 'only the hash is stored');
    });

    it('two instances on one store deliver every queued mail exactly once', async (t) => {
      const mail = await startMailServer(t);
      const a = await startApp(t, engine, { env: { SMTP_URL: mail.url, RATE_LIMIT_PER_IP: '100000' } });
      const b = await startApp(t, engine, { sameStoreAs: a, env: { SMTP_URL: mail.url, RATE_LIMIT_PER_IP: '100000' } });
      mail.refuseAll(true);
      const people = Array.from({ length: 16 }, () => newCredentials('pair'));
      for (const [i, person] of people.entries()) await register((i % 2 ? a : b).app, person);
      await firstTriesRecorded(a.databaseUrl, people.length);
      mail.refuseAll(false);
      a.clock.advance(60); // one clock: b shares a's
      await eventually(async () => mail.received.length >= people.length, 'every mail');
      await settle(1500);
      const recipients = mail.received.map((m) => m.to).sort();
      assert.deepEqual(recipients, people.map((p) => p.email).sort(), 'each exactly once');
      assert.equal(new Set(mail.received.map((m) => m.messageId)).size, people.length);
    });

    it('with MAIL_DISABLED the mail flows answer 503 and sign-up still works, queueing nothing', async (t) => {
      const test = await startApp(t, engine, { env: { MAIL_DISABLED: 'true' } });
      const credentials = newCredentials('nomail');
      await register(test.app, credentials);
      for (const [url, payload] of [
        ['/auth/password/forgot', { email: credentials.email }],
        ['/auth/verify/resend', { email: credentials.email }],
      ] as const) {
        const answer = await test.app.inject({ method: 'POST', url, payload });
        assert.equal(answer.statusCode, 503);
        assert.equal(json(answer).error, 'unavailable');
      }
      assert.equal((await test.stores.outbox.counts()).pending, 0);
    });
  });
}

describe('mail without a mail server (development)', () => {
  it('writes each message as an .eml file in DATA_DIR/mail and logs its name', async (t) => {
    const test: TestApp = await startApp(t, 'sqlite');
    const credentials = newCredentials('dev');
    await register(test.app, credentials);
    const folder = join(test.dir, 'mail');
    await eventually(async () => existsSync(folder) && readdirSync(folder).length === 1, 'the .eml file');
    const [file] = readdirSync(folder);
    const message = readFileSync(join(folder, file ?? ''), 'utf8');
    assert.match(message, new RegExp(`To: ${credentials.email}`));
    assert.match(message, /verify-email\?token=/);
    assert.ok(test.logs.some((line) => line.includes('development mail folder') && line.includes(file ?? '?')));
  });

  it("uses an operator's template where MAIL_TEMPLATES_DIR has one, escaping values in HTML", async (t) => {
    const mail = await startMailServer(t);
    const templates = tempDir('tessera-templates-');
    writeFileSync(join(templates, 'verify-email.subject.txt'), 'Welcome to Acme, {{username}}');
    writeFileSync(join(templates, 'verify-email.html'), '<p>{{email}} &mdash; <a href="{{link}}">go</a></p>');
    const test = await startApp(t, 'sqlite', { env: { SMTP_URL: mail.url, MAIL_TEMPLATES_DIR: templates } });
    const credentials = newCredentials('acme');
    await register(test.app, credentials);
    const received = await mail.waitFor((m) => m.to === credentials.email);
    assert.equal(received.subject, `Welcome to Acme, ${credentials.username}`);
    assert.match(received.html, /<a href="http:\/\/127\.0\.0\.1:5000\/verify-email\?token=[\w-]+">go<\/a>/);
    assert.match(received.text, /verify-email\?token=/, 'the text part is still the built-in one');
  });
});

describe('a kill -9 right after the answer', () => {
  it('loses no queued mail: the restarted server delivers it', async (t) => {
    const mail = await startMailServer(t);
    await mail.stop();
    const dir = tempDir('tessera-kill-');
    const env = { DATA_DIR: dir, SECRET_KEY: SECRET, SMTP_URL: mail.url };
    const first = await startServer(env, t);
    const credentials = newCredentials('killed');
    assert.equal((await post(`${first.url}/auth/register`, credentials)).status, 201);
    // Killed once its first try (the mail server is down) is recorded: the mail waits in the table.
    const database = `sqlite:${join(dir, 'tessera.sqlite3')}`;
    await firstTriesRecorded(database, 1);
    first.child.kill('SIGKILL');
    await first.exited;
    await mail.start();
    await startServer(env, t);
    // The retry is due 5 s (±20%) after the first try.
    await mail.waitFor((m) => m.to === credentials.email, 30_000);
  });
});

describe('an instance that dies while sending', () => {
  it('holds its claim until the lease ends; then another instance delivers the entry, once', async (t) => {
    const test = await startApp(t, 'sqlite', { env: { MAIL_DISABLED: 'true' } });
    const sealer = createSealer(test.config.secretKey, 'outbox');
    const outbox = createOutbox(sealer, test.clock, () => {});
    await test.stores.transaction((tx) => outbox.job(tx, 'probe', { n: '1' }));
    const worker = (handler: OutboxHandler) =>
      createOutboxWorker({
        outbox: test.stores.outbox,
        sealer,
        clock: test.clock,
        handlers: { probe: handler },
        warn: () => {},
      });
    // The first claimant never finishes: as a process killed mid-send.
    let started = 0;
    void worker(async () => {
      started += 1;
      return new Promise<'done'>(() => {});
    }).drain();
    await eventually(async () => started === 1, 'the first claim');
    const handled: unknown[] = [];
    const survivor = worker(async (payload) => {
      handled.push(payload);
      return 'done';
    });
    await survivor.drain();
    assert.deepEqual(handled, [], 'claimed: nobody else takes it');
    test.clock.advance(LEASE_MS / 1000 - 1);
    await survivor.drain();
    assert.deepEqual(handled, [], 'still inside the lease');
    test.clock.advance(2);
    await survivor.drain();
    assert.deepEqual(handled, [{ n: '1' }]);
    await survivor.drain();
    assert.equal(handled.length, 1, 'done: never again');
    assert.deepEqual(await test.stores.outbox.counts(), { pending: 0, done: 1, failed: 0 });
  });
});
