/**
 * Recovering an account by mail: the same answer for known and unknown addresses, a link that
 * works once, for one purpose, for an hour; a weak new password that leaves it usable; every
 * session ended at once; and a notice to the address.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import { FORM_HEADERS, json, login, newCredentials, register, startApp, whoami } from './helpers.js';
import { linkToken, type ReceivedMail, startMailServer } from './mail-server.js';

const NEW_PASSWORD = 'a brand new passphrase here';
const isReset = (to: string) => (m: ReceivedMail) => m.to === to && /reset/i.test(m.subject);

for (const engine of ENGINES) {
  describe(`password reset [${engine}]`, () => {
    it('forgot answers the same body and status for known and unknown addresses, and mails only the known', async (t) => {
      const mail = await startMailServer(t);
      const { app, stores, clock } = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      const credentials = newCredentials('forgot');
      await register(app, credentials);
      await mail.waitFor((m) => m.to === credentials.email);
      clock.advance(61); // past MAIL_MIN_INTERVAL, which the sign-up mail used
      const pending = (await stores.outbox.counts()).pending;
      const known = await app.inject({
        method: 'POST',
        url: '/auth/password/forgot',
        payload: { email: credentials.email },
      });
      const afterKnown = (await stores.outbox.counts()).pending;
      const unknown = await app.inject({
        method: 'POST',
        url: '/auth/password/forgot',
        payload: { email: 'ghost@example.com' },
      });
      assert.equal(known.statusCode, 202);
      assert.equal(unknown.statusCode, 202);
      assert.equal(known.body, unknown.body);
      assert.deepEqual(
        Object.keys(known.headers).sort(),
        Object.keys(unknown.headers).sort(),
        'the same headers, not only the same body',
      );
      // The request itself does the same work for both: it queues one job, and looks nothing up.
      assert.ok(afterKnown - pending <= 1);
      await mail.waitFor(isReset(credentials.email));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(mail.received.filter((m) => m.to === 'ghost@example.com').length, 0);
    });

    it('resets the password once, ends every session at once, and sends a notice', async (t) => {
      const mail = await startMailServer(t);
      const { app, clock } = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      const credentials = newCredentials('reset');
      await register(app, credentials);
      await mail.waitFor((m) => m.to === credentials.email);
      clock.advance(61);
      const before = [await login(app, credentials), await login(app, credentials)];
      await app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email: credentials.email } });
      const token = linkToken(await mail.waitFor(isReset(credentials.email)));

      const weak = await app.inject({
        method: 'POST',
        url: '/auth/password/reset',
        payload: { token, new_password: 'password' },
      });
      assert.equal(weak.statusCode, 400);
      assert.equal(json(weak).error, 'validation_failed');

      const done = await app.inject({
        method: 'POST',
        url: '/auth/password/reset',
        payload: { token, new_password: NEW_PASSWORD },
      });
      assert.equal(done.statusCode, 200, 'a weak password left the link usable');
      for (const tokens of before) {
        const refused = await whoami(app, tokens.access_token);
        assert.equal(refused.statusCode, 401);
        assert.equal(json(refused).error, 'token_revoked');
      }
      const old = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: credentials.username, password: credentials.password },
      });
      assert.equal(old.statusCode, 401);
      await login(app, { ...credentials, password: NEW_PASSWORD });
      await mail.waitFor((m) => m.to === credentials.email && /changed/i.test(m.subject));

      const replay = await app.inject({
        method: 'POST',
        url: '/auth/password/reset',
        payload: { token, new_password: `${NEW_PASSWORD}!` },
      });
      assert.equal(replay.statusCode, 400);
      assert.equal(json(replay).error, 'invalid_link_token');
    });

    it('refuses an expired link, and a link of another purpose without using it up', async (t) => {
      const mail = await startMailServer(t);
      const { app, clock } = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      const credentials = newCredentials('expiry');
      await register(app, credentials);
      const verifyToken = linkToken(await mail.waitFor((m) => m.to === credentials.email));

      const crossed = await app.inject({
        method: 'POST',
        url: '/auth/password/reset',
        payload: { token: verifyToken, new_password: NEW_PASSWORD },
      });
      assert.equal(crossed.statusCode, 400);
      assert.equal(json(crossed).error, 'invalid_link_token');
      assert.equal(
        (await app.inject({ method: 'POST', url: '/auth/verify', payload: { token: verifyToken } })).statusCode,
        200,
        'still good for its own purpose',
      );

      clock.advance(61);
      await app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email: credentials.email } });
      const resetToken = linkToken(await mail.waitFor(isReset(credentials.email)));
      const crossedBack = await app.inject({ method: 'POST', url: '/auth/verify', payload: { token: resetToken } });
      assert.equal(crossedBack.statusCode, 400);
      clock.advance(3601);
      const expired = await app.inject({
        method: 'POST',
        url: '/auth/password/reset',
        payload: { token: resetToken, new_password: NEW_PASSWORD },
      });
      assert.equal(expired.statusCode, 400);
      assert.equal(json(expired).error, 'invalid_link_token');
    });

    it('the reset page shows a form on GET and changes the password only on its POST', async (t) => {
      const mail = await startMailServer(t);
      const { app, clock } = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      const credentials = newCredentials('resetpage');
      await register(app, credentials);
      await mail.waitFor((m) => m.to === credentials.email);
      clock.advance(61);
      await app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email: credentials.email } });
      const token = linkToken(await mail.waitFor(isReset(credentials.email)));
      const page = await app.inject({ method: 'GET', url: `/reset-password?token=${token}` });
      assert.equal(page.statusCode, 200);
      assert.equal(page.headers['referrer-policy'], 'no-referrer');
      assert.match(page.body, /<label for="field-new_password">/);
      await login(app, credentials); // the GET changed nothing

      const form = (password: string) =>
        app.inject({
          method: 'POST',
          url: '/reset-password',
          headers: FORM_HEADERS,
          payload: new URLSearchParams({ token, new_password: password }).toString(),
        });
      const weak = await form('short');
      assert.equal(weak.statusCode, 400);
      assert.match(weak.body, /New password: This is too short/);
      assert.match(weak.body, new RegExp(`value="${token}"`), 'the form comes back with the same link');
      const done = await form(NEW_PASSWORD);
      assert.equal(done.statusCode, 200);
      assert.match(done.body, /Your password is changed/);
      await login(app, { ...credentials, password: NEW_PASSWORD });
    });

    it('sends at most one mail a minute to an address, answering the same', async (t) => {
      const mail = await startMailServer(t);
      const { app, clock } = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      const credentials = newCredentials('limited');
      await register(app, credentials);
      await mail.waitFor((m) => m.to === credentials.email);
      clock.advance(61);
      for (let i = 0; i < 3; i++) {
        const answer = await app.inject({
          method: 'POST',
          url: '/auth/password/forgot',
          payload: { email: credentials.email },
        });
        assert.equal(answer.statusCode, 202);
      }
      await mail.waitFor(isReset(credentials.email));
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(mail.received.filter(isReset(credentials.email)).length, 1);
    });
  });
}
