/**
 * Passkeys in a real browser: Debian's Chromium with its virtual authenticator (the DevTools
 * protocol's WebAuthn domain), against the real app on a port (SQLite). A user adds a passkey on
 * the account page, signs out, signs in with it and no username, uses it as the second factor
 * after a password, and removes it. A response Chromium really made is replayed and refused, and
 * a clone of the credential (its private key copied into a second authenticator whose counter
 * starts again at 0) is refused and recorded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import {
  bearer,
  FORM_HEADERS,
  freePort,
  json,
  login,
  newCredentials,
  register,
  startApp,
  type TestApp,
} from '../helpers.js';
import { totpAt } from '../totp.js';
import { launchChromium } from './chromium.js';

const teardown: (() => unknown)[] = [];
const suite = { after: (fn: () => unknown) => teardown.push(fn) };

interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  privateKey: string;
  userHandle?: string;
  signCount: number;
}

/** A platform authenticator that verifies the user (as a fingerprint would) and answers at once. */
async function virtualAuthenticator(context: BrowserContext, page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

async function credentialsOf(cdp: CDPSession, authenticatorId: string): Promise<VirtualCredential[]> {
  return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials as VirtualCredential[];
}

describe('passkeys in Chromium (virtual authenticator)', () => {
  let test: TestApp;
  let browser: Browser;
  let base: string;

  before(async () => {
    const port = await freePort();
    // WebAuthn wants a domain for its rp id, never an IP address: localhost is one browsers allow over http.
    base = `http://localhost:${port}`;
    test = await startApp(suite, 'sqlite', { env: { PUBLIC_URL: base } });
    await test.app.listen({ port, host: '127.0.0.1' });
    browser = await launchChromium(suite);
  });

  after(async () => {
    for (const fn of teardown.reverse()) await fn();
  });

  const credentials = newCredentials('passkey');

  async function passwordSignIn(page: Page) {
    await page.goto(`${base}/login`);
    await page.getByLabel('Username or email').fill(credentials.username);
    await page.getByLabel('Password').fill(credentials.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  /**
   * With `autofill`, the page is only opened: the browser's autofill (conditional UI) offers the
   * passkey and the virtual authenticator, which answers at once, takes it. With `button`, the
   * button is clicked.
   */
  async function passkeySignIn(page: Page, how: 'autofill' | 'button') {
    await page.goto(`${base}/login${how === 'autofill' ? '?autofill' : ''}`);
    if (how === 'button') await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  }

  /**
   * A virtual authenticator answers autofill at once, so any visit to /login would sign in by
   * passkey: conditional UI is switched off in these pages unless the URL asks for it.
   */
  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    await context.addInitScript({
      content: `if (!location.search.includes('autofill')) PublicKeyCredential.isConditionalMediationAvailable = async () => false;`,
    });
    return { context, page: await context.newPage() };
  }

  async function signOut(page: Page) {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
  }

  it('adds a passkey, signs in with it and no username, uses it as the second factor, and removes it', async () => {
    const userId = await register(test.app, credentials);
    const { context, page } = await newPage();
    const { cdp, id } = await virtualAuthenticator(context, page);

    await passwordSignIn(page);
    await page.waitForURL(`${base}/account`);
    assert.match(await page.locator('#passkeys').locator('..').innerText(), /You have no passkeys yet/);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByLabel('Name').fill('Chromium on the test machine');
    await page.getByRole('button', { name: 'Create the passkey' }).click();
    await page.waitForURL(`${base}/account?notice=passkey_added`);
    assert.match(await page.locator('#passkey-list').innerText(), /Chromium on the test machine/);
    const [held] = await credentialsOf(cdp, id);
    assert.ok(held, 'the authenticator holds the new credential');
    assert.equal(held.isResidentCredential, true, 'a discoverable credential (resident key)');
    assert.equal(held.rpId, 'localhost');
    assert.notEqual(Buffer.from(held.userHandle ?? '', 'base64').toString(), credentials.username);

    await signOut(page);
    let captured: string | undefined;
    await page.route('**/login/passkey', async (route) => {
      captured = route.request().postData() ?? undefined;
      await route.continue();
    });
    await passkeySignIn(page, 'autofill');
    await page.waitForURL(`${base}/account`);
    await page.unroute('**/login/passkey');
    const sessions = json<{ sessions: { aal: number; current: boolean }[] }>(
      await test.app.inject({
        method: 'GET',
        url: '/auth/sessions',
        headers: { cookie: (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ') },
      }),
    );
    assert.equal(sessions.sessions.find((s) => s.current)?.aal, 2, 'a passkey sign-in is aal 2');

    // The very response Chromium sent, sent again: refused, and no session opens.
    assert.ok(captured, 'the page posted the passkey answer');
    const replayed = await test.app.inject({
      method: 'POST',
      url: '/login/passkey',
      headers: FORM_HEADERS,
      payload: captured,
    });
    assert.equal(replayed.statusCode, 401);
    assert.match(replayed.body, /The passkey could not be verified/);

    // A second factor: with an authenticator app on the account, a password sign-in asks for
    // the second step, and the passkey answers it.
    const tokens = await login(test.app, credentials);
    const enrolment = json<{ factor_id: string; secret: string }>(
      await test.app.inject({ method: 'POST', url: '/auth/mfa/totp', headers: bearer(tokens.access_token) }),
    );
    await test.app.inject({
      method: 'POST',
      url: `/auth/mfa/totp/${enrolment.factor_id}/confirm`,
      headers: bearer(tokens.access_token),
      payload: { code: totpAt(enrolment.secret, test.clock.now()) },
    });
    await signOut(page);
    await passwordSignIn(page);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL(`${base}/account`);
    const events = await test.stores.audit.list({ userId, type: 'login.succeeded', limit: 10 });
    assert.deepEqual(
      events.map((e) => e.data?.amr).sort(),
      ['hwk', 'pwd', 'pwd', 'pwd hwk'],
      'two password sign-ins, then the passkey alone, then the password with the passkey as its second factor',
    );

    // Removing needs aal 2 and a fresh sign-in: this one is both.
    await page.getByRole('button', { name: 'Remove the passkey Chromium on the test machine' }).click();
    await page.waitForURL(`${base}/account?notice=passkey_removed`);
    assert.match(await page.locator('#passkeys').locator('..').innerText(), /You have no passkeys yet/);
    await context.close();
  });

  it('refuses a clone of the credential whose counter went back, and records it', async () => {
    const cloned = newCredentials('cloned');
    const userId = await register(test.app, cloned);
    const { context, page } = await newPage();
    const original = await virtualAuthenticator(context, page);

    await page.goto(`${base}/login`);
    await page.getByLabel('Username or email').fill(cloned.username);
    await page.getByLabel('Password').fill(cloned.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/account`);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('button', { name: 'Create the passkey' }).click();
    await page.waitForURL(`${base}/account?notice=passkey_added`);
    await signOut(page);
    await passkeySignIn(page, 'button');
    await page.waitForURL(`${base}/account`);
    await signOut(page);

    const [credential] = await credentialsOf(original.cdp, original.id);
    assert.ok(credential && credential.signCount >= 2, 'the original has signed twice');
    await original.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: original.id });
    const clone = await virtualAuthenticator(context, page);
    await clone.cdp.send('WebAuthn.addCredential', {
      authenticatorId: clone.id,
      credential: { ...credential, signCount: 0 },
    });

    await passkeySignIn(page, 'button');
    await page.waitForURL(/\/login\/passkey/);
    assert.match(await page.locator('.error-summary').innerText(), /The passkey could not be verified/);
    const regressions = await test.stores.audit.list({ userId, type: 'passkey.counter_regressed', limit: 10 });
    assert.equal(regressions.length, 1);
    assert.equal(regressions[0]?.data?.presented, 1);
    await context.close();
  });
});
