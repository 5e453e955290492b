/**
 * The hosted pages in a real browser (Debian's Chromium), against the real app on a port, a
 * real SMTP server and SQLite: sign-up → the mailed verification link → sign-in → account →
 * authenticator app (the code computed here from the key the page shows) → sign-out → sign-in
 * with the second factor → ending another session → forgot and reset password. Also: a page on
 * another origin cannot sign anyone out with their cookies, `return_to` leads only to trusted
 * origins, and everything works with script off.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { bearer, freePort, json, newCredentials, register, startApp, type TestApp } from '../helpers.js';
import { linkToken, startMailServer, type TestMailServer } from '../mail-server.js';
import { totpAt } from '../totp.js';
import { launchChromium } from './chromium.js';

const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1' ? join(import.meta.dirname, '../../docs/screenshots') : undefined;
const teardown: (() => unknown)[] = [];
const suite = { after: (fn: () => unknown) => teardown.push(fn) };

/** A plain site on another port: the attacker's page, or the team's own app. */
async function site(port: number, body: string): Promise<Server> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  suite.after(() => new Promise((resolve) => server.close(resolve)));
  return server;
}

async function shot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

describe('hosted pages in Chromium', () => {
  let test: TestApp;
  let mail: TestMailServer;
  let browser: Browser;
  let base: string;
  let appOrigin: string;
  let attackerOrigin: string;

  before(async () => {
    const [port, appPort, attackerPort] = [await freePort(), await freePort(), await freePort()];
    base = `http://127.0.0.1:${port}`;
    appOrigin = `http://127.0.0.1:${appPort}`;
    attackerOrigin = `http://127.0.0.1:${attackerPort}`;
    mail = await startMailServer(suite);
    test = await startApp(suite, 'sqlite', {
      env: { PUBLIC_URL: base, SMTP_URL: mail.url, CORS_ORIGINS: appOrigin, MAIL_MIN_INTERVAL: '1' },
    });
    await test.app.listen({ port, host: '127.0.0.1' });
    await site(appPort, '<!doctype html><title>The team app</title><h1>The team app</h1>');
    // Same site as Tessera (127.0.0.1), another origin: the browser sends the cookies along,
    // so only the CSRF checks stand between this page and the session.
    await site(
      attackerPort,
      `<!doctype html><title>Win a prize</title>
<form id="api" method="post" action="${base}/auth/logout" enctype="text/plain">
<input type="hidden" name='{"scope":"global","x":"' value='"}'><button id="claim">Claim the prize</button></form>
<form id="page" method="post" action="${base}/auth/sign-out"><input type="hidden" name="csrf_token" value="guess">
<button id="claim-again">Claim it again</button></form>`,
    );
    browser = await launchChromium(suite);
  });

  after(async () => {
    for (const fn of teardown.reverse()) await fn();
  });

  const credentials = newCredentials('browser');
  const firstPassword = credentials.password;
  const newPassword = 'an entirely new passphrase 42';
  let secret = '';

  /** The next TOTP code: the clock moves a step on, so no code is ever the one just used. */
  const nextCode = () => {
    test.clock.advance(30);
    return totpAt(secret, test.clock.now());
  };

  async function signIn(page: Page, identifier: string, password: string, returnTo?: string) {
    await page.goto(`${base}/login${returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ''}`);
    await page.getByLabel('Username or email').fill(identifier);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  it('walks a user from sign-up to a second factor, other sessions, and a reset password', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();

    await page.goto(`${base}/register`);
    await shot(page, 'register');
    await page.getByLabel('Username').fill(credentials.username);
    await page.getByLabel('Email address').fill(credentials.email);
    await page.getByLabel('Password').fill(credentials.password);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.waitForURL(/\/login\?notice=registered/);
    assert.match(await page.getByRole('status').innerText(), /Your account is ready/);

    const verification = await mail.waitFor((m) => m.to === credentials.email && /verify-email/.test(m.text));
    await page.goto(`${base}/verify-email?token=${linkToken(verification)}`);
    await page.getByRole('button', { name: 'Confirm my address' }).click();
    assert.match(await page.getByRole('status').innerText(), /Your email address is confirmed/);

    await signIn(page, credentials.email, credentials.password);
    await page.waitForURL(`${base}/account`);
    assert.match(await page.locator('dl').innerText(), new RegExp(`${credentials.username}[\\s\\S]*\\(confirmed\\)`));

    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    assert.equal(await page.locator('.qr svg').count(), 1, 'the QR code is on the page');
    await shot(page, 'enrol-authenticator');
    secret = (await page.locator('#totp-secret').innerText()).trim();
    await page.getByLabel('Code').fill('000000');
    await page.getByRole('button', { name: 'Confirm' }).click();
    assert.match(await page.getByRole('alert').innerText(), /not valid/, 'a wrong code is announced');
    await page.getByLabel('Code').fill(totpAt(secret, test.clock.now()));
    await page.getByRole('button', { name: 'Confirm' }).click();
    assert.equal(await page.locator('#recovery-codes li').count(), 10);
    await page.getByRole('link', { name: 'Done' }).click();
    assert.match(
      await page.locator('#mfa + p, section[aria-labelledby=mfa]').first().innerText(),
      /10 recovery codes left/,
    );

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login\?notice=signed_out/);
    await page.goto(`${base}/account`);
    await page.waitForURL(/\/login\?return_to=/, { timeout: 5000 });

    await signIn(page, credentials.username, credentials.password);
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await shot(page, 'login-second-step');
    await page.getByLabel('Code', { exact: true }).fill(nextCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${base}/account`);

    // Another device signs in through the API; this page ends that session.
    test.clock.advance(30);
    const elsewhere = await test.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'user-agent': 'Other device' },
      payload: { username: credentials.username, password: credentials.password },
    });
    const mfaToken = json<{ mfa_token: string }>(elsewhere).mfa_token;
    const other = await test.app.inject({
      method: 'POST',
      url: '/auth/mfa/verify',
      headers: { 'user-agent': 'Other device' },
      payload: { mfa_token: mfaToken, code: totpAt(secret, test.clock.now()) },
    });
    assert.equal(other.statusCode, 200, other.body);
    const otherAccess = json<{ tokens: { access_token: string } }>(other).tokens.access_token;
    await page.reload();
    await shot(page, 'account');
    await page.getByRole('button', { name: 'End the session on Other device' }).click();
    assert.match(await page.getByRole('status').first().innerText(), /That session is signed out/);
    assert.equal(await page.getByText('Other device').count(), 0);
    const whoami = await test.app.inject({ method: 'GET', url: '/auth/whoami', headers: bearer(otherAccess) });
    assert.equal(json(whoami).error, 'token_revoked');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${base}/forgot-password`);
    await page.getByLabel('Email address').fill(credentials.email);
    await page.getByRole('button', { name: 'Send me a link' }).click();
    assert.match(await page.getByRole('status').innerText(), /If an account uses this address/);
    const reset = await mail.waitFor((m) => m.to === credentials.email && /reset-password/.test(m.text));
    await page.goto(`${base}/reset-password?token=${linkToken(reset)}`);
    await page.getByLabel('New password').fill(newPassword);
    await page.getByRole('button', { name: 'Set my new password' }).click();
    assert.match(await page.getByRole('status').innerText(), /Your password is changed/);

    await signIn(page, credentials.username, firstPassword);
    assert.match(await page.getByRole('alert').innerText(), /incorrect/, 'the old password is gone');
    await signIn(page, credentials.username, newPassword);
    await page.getByLabel('Code', { exact: true }).fill(nextCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${base}/account`);
    await context.close();
  });

  it('refuses a page on another origin that posts logout with the cookies', async () => {
    const victim = newCredentials('victim');
    await register(test.app, victim);
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, victim.username, victim.password);
    await page.waitForURL(`${base}/account`);

    await page.goto(`${attackerOrigin}/`);
    const [apiAnswer] = await Promise.all([
      page.waitForResponse(`${base}/auth/logout`),
      page.locator('#claim').click(),
    ]);
    assert.equal(apiAnswer.status(), 403);
    assert.equal(((await apiAnswer.json()) as { error: string }).error, 'csrf_failed');

    await page.goto(`${attackerOrigin}/`);
    const [pageAnswer] = await Promise.all([
      page.waitForResponse(`${base}/auth/sign-out`),
      page.locator('#claim-again').click(),
    ]);
    assert.equal(pageAnswer.status(), 403);

    await page.goto(`${base}/account`);
    assert.equal(page.url(), `${base}/account`, 'still signed in');
    assert.match(await page.locator('dl').innerText(), new RegExp(victim.username));
    await context.close();
  });

  it('follows return_to to a trusted origin only, and works with script off', async () => {
    const user = newCredentials('noscript');
    await register(test.app, user);
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();

    await signIn(page, user.username, user.password, `${appOrigin}/after-login`);
    await page.waitForURL(`${appOrigin}/after-login`);
    assert.equal(await page.title(), 'The team app');

    for (const hostile of ['https://evil.example/', '//evil.example/', '/\\evil.example/', 'javascript:alert(1)']) {
      await signIn(page, user.username, user.password, hostile);
      await page.waitForURL(`${base}/account`);
    }
    const cookies = await context.cookies();
    const access = cookies.find((c) => c.name === 'tessera-access');
    assert.ok(access?.httpOnly, 'the access token is out of reach of script');
    assert.equal(cookies.find((c) => c.name === 'tessera-refresh')?.path, '/auth');
    await context.close();
  });
});
