/**
 * @tessera/client in Chromium: two tabs of one app share a session (localStorage) and refresh at
 * the same moment, 50 times, against a Tessera with no reuse grace at all
 * (REFRESH_REUSE_INTERVAL=0): the Web Locks make every refresh present the newest token, so
 * reuse detection never ends the session. And the client in cookie mode, from a CORS origin.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import type { createTesseraClient, TesseraClient } from '../../packages/client/src/index.js';
import { freePort, newCredentials, startApp, type TestApp } from '../helpers.js';
import { launchChromium } from './chromium.js';

const teardown: (() => unknown)[] = [];
const suite = { after: (fn: () => unknown) => teardown.push(fn) };

/** What the page holds: the bundle's global and the client made from it. */
interface PageGlobals {
  Tessera: { createTesseraClient: typeof createTesseraClient };
  client: TesseraClient;
  localStorage: { getItem(key: string): string | null };
}

describe('@tessera/client in Chromium', () => {
  let test: TestApp;
  let browser: Browser;
  let base: string;
  let appOrigin: string;

  before(async () => {
    const [port, appPort] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${port}`;
    appOrigin = `http://127.0.0.1:${appPort}`;
    test = await startApp(suite, 'sqlite', {
      env: { PUBLIC_URL: base, CORS_ORIGINS: appOrigin, REFRESH_REUSE_INTERVAL: '0', RATE_LIMIT_PER_IP: '100000' },
    });
    await test.app.listen({ port, host: '127.0.0.1' });
    const bundle = await build({
      entryPoints: [join(import.meta.dirname, '../../packages/client/src/index.ts')],
      bundle: true,
      format: 'iife',
      globalName: 'Tessera',
      platform: 'browser',
      write: false,
    });
    const script = bundle.outputFiles[0]?.text ?? '';
    const app = createServer((request, response) => {
      if (request.url === '/client.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      } else {
        response
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<!doctype html><title>app</title><script src="/client.js"></script>');
      }
    });
    await new Promise<void>((resolve) => app.listen(appPort, '127.0.0.1', resolve));
    suite.after(() => new Promise((resolve) => app.close(resolve)));
    browser = await launchChromium(suite);
  });

  after(async () => {
    for (const fn of teardown.reverse()) await fn();
  });

  const open = async (context: Awaited<ReturnType<Browser['newContext']>>, transport: 'body' | 'cookie') => {
    const page = await context.newPage();
    await page.goto(`${appOrigin}/`);
    await page.evaluate(
      ([baseUrl, mode]) => {
        (globalThis as unknown as PageGlobals).client = (
          globalThis as unknown as PageGlobals
        ).Tessera.createTesseraClient({ baseUrl, transport: mode });
      },
      [base, transport] as const,
    );
    return page;
  };

  it('two tabs refreshing at the same moment, 50 times, never trip reuse detection', async () => {
    const context = await browser.newContext();
    const [first, second] = [await open(context, 'body'), await open(context, 'body')];
    const credentials = newCredentials('tabs');
    await first.evaluate(async (c) => {
      await (globalThis as unknown as PageGlobals).client.register(c);
      await (globalThis as unknown as PageGlobals).client.login({ username: c.username, password: c.password });
    }, credentials);
    let refreshes = 0;
    for (const page of [first, second]) {
      page.on('request', (request) => {
        if (request.method() === 'POST' && request.url().endsWith('/auth/refresh')) refreshes++;
      });
    }
    const refresh = (page: Page) => page.evaluate(() => (globalThis as unknown as PageGlobals).client.refresh());
    for (let round = 0; round < 50; round++) await Promise.all([refresh(first), refresh(second)]);
    for (const page of [first, second]) {
      const me = await page.evaluate(
        async () => (await (globalThis as unknown as PageGlobals).client.whoami()).user_details.username,
      );
      assert.equal(me, credentials.username);
    }
    assert.ok(refreshes >= 50 && refreshes <= 100, `${refreshes} refresh requests for 100 asks`);
    const reuse = (await test.stores.audit.list({ type: 'refresh.reuse_detected', limit: 10 })).length;
    assert.equal(reuse, 0, 'no session ended by reuse detection');
    await context.close();
  });

  it('works in cookie mode from a CORS origin: no token in the page', async () => {
    const context = await browser.newContext();
    const page = await open(context, 'cookie');
    const credentials = newCredentials('cookietab');
    const outcome = await page.evaluate(async (c) => {
      const ended: string[] = [];
      (globalThis as unknown as PageGlobals).client.onSessionEnd((reason: string) => ended.push(reason));
      await (globalThis as unknown as PageGlobals).client.register(c);
      await (globalThis as unknown as PageGlobals).client.login({ username: c.username, password: c.password });
      const stored = (globalThis as unknown as PageGlobals).localStorage.getItem('tessera.session') ?? '';
      const me = (await (globalThis as unknown as PageGlobals).client.whoami()).user_details.username;
      await (globalThis as unknown as PageGlobals).client.refresh();
      const again = (await (globalThis as unknown as PageGlobals).client.whoami()).user_details.username;
      await (globalThis as unknown as PageGlobals).client.logout();
      return { stored, me, again, ended };
    }, credentials);
    assert.equal(outcome.me, credentials.username);
    assert.equal(outcome.again, credentials.username);
    assert.deepEqual(outcome.ended, ['logout']);
    assert.ok(!/eyJ/.test(outcome.stored), 'no token where script can read it');
    await context.close();
  });
});
