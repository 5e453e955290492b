/**
 * Proving an address: the mail sent at sign-up (over real SMTP), its one-time link, resends
 * that void older links, the page a link opens, changing the address, and logins that wait
 * for a proven address when REQUIRE_EMAIL_VERIFICATION is on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import { bearer, FORM_HEADERS, json, login, newCredentials, register, startApp, whoami } from './helpers.js';
import { linkToken, startMailServer } from './mail-server.js';

for (const engine of ENGINES) {
  describe(`email verification [${engine}]`, () => {
    it('mails a link at sign-up; the link proves the address once, and whoami says so', async (t) => {
      const mail = await startMailServer(t);
      const { app } = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      const credentials = newCredentials('verify');
      await register(app, credentials);
      const message = await mail.waitFor((m) => m.to === credentials.email);
      assert.match(message.subject, /confirm/i);
      assert.match(message.text, /http:\/\/127\.0\.0\.1:5000\/verify-email\?token=/);
      assert.match(message.html, /href="http:\/\/127\.0\.0\.1:5000\/verify-email\?token=/);
      const token = linkToken(message);
      const tokens = await login(app, credentials);
      assert.equal(
        json<{ user_details: { email_verified: boolean } }>(await whoami(app, tokens.access_token)).user_details
          .email_verified,
        false,
      );

      const verified = await app.inject({ method: 'POST', url: '/auth/verify', payload: { token } });
      assert.equal(verified.statusCode, 200);
      assert.deepEqual(json(verified), { message: 'Email address verified', purpose: 'verify_email' });
      assert.equal(
        json<{ user_details: { email_verified: boolean } }>(await whoami(app, tokens.access_token)).user_details
          .email_verified,
        true,
      );

      const replayed = await app.inject({ method: 'POST', url: '/auth/verify', payload: { token } });
      assert.equal(replayed.statusCode, 400);
      assert.equal(json(replayed).error, 'invalid_link_token');
    });

    it('a GET of the page shows a form and consumes nothing; its POST does the work', async (t) => {
      const mail = await startMailServer(t);
      const { app } = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      const credentials = newCredentials('page');
      await register(app, credentials);
      const token = linkToken(await mail.waitFor((m) => m.to === credentials.email));

      for (let i = 0; i < 3; i++) {
        const page = await app.inject({ method: 'GET', url: `/verify-email?token=${token}` });
        assert.equal(page.statusCode, 200);
        assert.match(String(page.headers['content-type']), /^text\/html/);
        assert.equal(page.headers['referrer-policy'], 'no-referrer');
        assert.match(String(page.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/);
        assert.match(page.body, new RegExp(`name="token" value="${token}"`));
      }
      const posted = await app.inject({
        method: 'POST',
        url: '/verify-email',
        headers: FORM_HEADERS,
        payload: `token=${token}`,
      });
      assert.equal(posted.statusCode, 200);
      assert.match(posted.body, /Your email address is confirmed/);
      const again = await app.inject({
        method: 'POST',
        url: '/verify-email',
        headers: FORM_HEADERS,
        payload: `token=${token}`,
      });
      assert.equal(again.statusCode, 400);
      assert.match(again.body, /not valid/);
    });

    it('resend answers the same for any address, mails only an unverified account, and voids the older link', async (t) => {
      const mail = await startMailServer(t);
      const { app, clock } = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      const credentials = newCredentials('resend');
      await register(app, credentials);
      const first = linkToken(await mail.waitFor((m) => m.to === credentials.email));
      clock.advance(61);

      const known = await app.inject({
        method: 'POST',
        url: '/auth/verify/resend',
        payload: { email: credentials.email },
      });
      const unknown = await app.inject({
        method: 'POST',
        url: '/auth/verify/resend',
        payload: { email: 'nobody@example.com' },
      });
      assert.equal(known.statusCode, 202);
      assert.equal(unknown.statusCode, 202);
      assert.equal(known.body, unknown.body);
      const second = linkToken(await mail.waitFor((m) => m.to === credentials.email && linkToken(m) !== first));
      assert.equal(mail.received.filter((m) => m.to === 'nobody@example.com').length, 0);

      const old = await app.inject({ method: 'POST', url: '/auth/verify', payload: { token: first } });
      assert.equal(old.statusCode, 400, 'a newer link voids the older');
      assert.equal(
        (await app.inject({ method: 'POST', url: '/auth/verify', payload: { token: second } })).statusCode,
        200,
      );
    });

    it('with REQUIRE_EMAIL_VERIFICATION, the right password of an unproven address is 403; a wrong one stays 401', async (t) => {
      const mail = await startMailServer(t);
      const { app } = await startApp(t, engine, { env: { SMTP_URL: mail.url, REQUIRE_EMAIL_VERIFICATION: 'true' } });
      const credentials = newCredentials('strict');
      await register(app, credentials);
      const token = linkToken(await mail.waitFor((m) => m.to === credentials.email));
      const attempt = (password: string) =>
        app.inject({ method: 'POST', url: '/auth/login', payload: { username: credentials.username, password } });
      const unproven = await attempt(credentials.password);
      assert.equal(unproven.statusCode, 403);
      assert.equal(json(unproven).error, 'email_not_verified');
      assert.equal((await attempt('wrong password entirely')).statusCode, 401);
      await app.inject({ method: 'POST', url: '/auth/verify', payload: { token } });
      assert.equal((await attempt(credentials.password)).statusCode, 200);
    });

    it('changes the address only through a link mailed to the new one, with a notice to the old one', async (t) => {
      const mail = await startMailServer(t);
      const { app } = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      const credentials = newCredentials('mover');
      await register(app, credentials);
      const tokens = await login(app, credentials);
      const newEmail = `new-${credentials.email}`;

      const refreshed = json<{ access_token: string }>(
        await app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) }),
      );
      const stale = await app.inject({
        method: 'POST',
        url: '/auth/email',
        headers: bearer(refreshed.access_token),
        payload: { new_email: newEmail },
      });
      assert.equal(stale.statusCode, 401, 'needs a fresh token');
      assert.equal(json(stale).error, 'fresh_token_required');

      const fresh = (await login(app, credentials)).access_token;
      const asked = await app.inject({
        method: 'POST',
        url: '/auth/email',
        headers: bearer(fresh),
        payload: { new_email: newEmail },
      });
      assert.equal(asked.statusCode, 202);
      const link = await mail.waitFor((m) => m.to === newEmail);
      const notice = await mail.waitFor((m) => m.to === credentials.email && /change/i.test(m.subject));
      assert.match(notice.text, new RegExp(newEmail.replace(/[.]/g, '\\.')));
      assert.equal(
        json<{ user_details: { email: string } }>(await whoami(app, fresh)).user_details.email,
        credentials.email,
      );

      const confirmed = await app.inject({ method: 'POST', url: '/auth/verify', payload: { token: linkToken(link) } });
      assert.equal(confirmed.statusCode, 200);
      assert.equal(json(confirmed).purpose, 'change_email');
      const details = json<{ user_details: { email: string; email_verified: boolean } }>(
        await whoami(app, fresh),
      ).user_details;
      assert.equal(details.email, newEmail);
      assert.equal(details.email_verified, true);
      const byNewEmail = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: newEmail, password: credentials.password },
      });
      assert.equal(byNewEmail.statusCode, 200);
    });

    it('an address another account has gets no link, and the answer is the same', async (t) => {
      const mail = await startMailServer(t);
      const { app } = await startApp(t, engine, { env: { SMTP_URL: mail.url } });
      const owner = newCredentials('owner');
      const other = newCredentials('other');
      await register(app, owner);
      await register(app, other);
      const fresh = (await login(app, other)).access_token;
      const asked = await app.inject({
        method: 'POST',
        url: '/auth/email',
        headers: bearer(fresh),
        payload: { new_email: owner.email },
      });
      assert.equal(asked.statusCode, 202);
      await mail.waitFor((m) => m.to === owner.email); // its own sign-up mail
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(mail.received.filter((m) => m.to === owner.email).length, 1);
    });
  });
}
