/**
 * The audit log: every event the issue names is recorded exactly once, by the action that
 * causes it, with who, whom, where from and nothing secret; a request that changes nothing
 * records nothing (a failed login excepted); admins read it newest first by cursor; old events
 * are purged. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import {
  bearer,
  eventually,
  json,
  login,
  newCredentials,
  PASSWORD,
  register,
  signUp,
  signUpAdmin,
  startApp,
  type TestApp,
} from './helpers.js';
import { linkToken, startMailServer } from './mail-server.js';
import { totpAt } from './totp.js';

const UA = { 'user-agent': 'AuditTest/1.0' };

/** Every event recorded since `since` (oldest first), as stored. */
async function eventsSince(test: TestApp, since = 0) {
  return (await test.stores.audit.list({ since, limit: 10_000 })).reverse();
}

function only(events: { type: string }[], type: string) {
  const matching = events.filter((e) => e.type === type);
  assert.equal(matching.length, 1, `exactly one ${type} (got ${events.map((e) => e.type).join(', ')})`);
  return matching[0] as Awaited<ReturnType<typeof eventsSince>>[number];
}

/** What one step records: the events it adds, and nothing else that was there before changes. */
async function step(test: TestApp, run: () => Promise<unknown>) {
  // By id: the test clock stands still, so events of one millisecond have no order between them.
  const before = new Set((await eventsSince(test)).map((e) => e.id));
  await run();
  return (await eventsSince(test)).filter((e) => !before.has(e.id));
}

for (const engine of ENGINES.filter((e) => e !== 'postgres+redis')) {
  describe(`audit log [${engine}]`, () => {
    it('records sign-up, logins, failures with their reason, refresh reuse, logout and ended sessions', async (t) => {
      const test = await startApp(t, engine, { env: { LOGIN_FAILURES_PER_ACCOUNT_IP: '3' } });
      const { app } = test;
      const credentials = newCredentials('audited');
      const registered = await step(test, () =>
        app.inject({ method: 'POST', url: '/auth/register', headers: UA, payload: credentials }),
      );
      const userEvent = only(registered, 'user.registered');
      assert.equal(registered.length, 1);
      assert.equal(userEvent.ip, '127.0.0.1');
      assert.equal(userEvent.userAgent, 'AuditTest/1.0');
      const userId = userEvent.userId;

      const loggedIn = await step(test, () => login(app, credentials, UA));
      const success = only(loggedIn, 'login.succeeded');
      assert.equal(loggedIn.length, 1);
      assert.deepEqual([success.userId, success.data?.aal, success.data?.amr], [userId, 1, 'pwd']);
      assert.ok(success.sessionId);

      const wrong = await step(test, () =>
        app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username: credentials.username, password: 'nope nope' },
        }),
      );
      assert.deepEqual(only(wrong, 'login.failed').data, { reason: 'wrong_password' });
      const unknown = await step(test, () =>
        app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username: 'nobody-at-all', password: 'nope nope' },
        }),
      );
      const unknownEvent = only(unknown, 'login.failed');
      assert.deepEqual(
        [unknownEvent.userId, unknownEvent.data],
        [null, { reason: 'unknown_user', identifier: 'nobody-at-all' }],
      );
      for (let i = 0; i < 3; i++) {
        await app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username: credentials.username, password: 'nope' },
        });
      }
      const throttled = await step(test, () =>
        app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username: credentials.username, password: 'nope' },
        }),
      );
      assert.deepEqual(only(throttled, 'login.failed').data, { reason: 'throttled' });

      test.clock.advance(15 * 60 + 1); // past the failure window
      const tokens = await login(app, credentials);
      test.clock.advance(test.config.refreshReuseIntervalSeconds + 1);
      const rotated = await step(test, () =>
        app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) }),
      );
      assert.equal(rotated.length, 0, 'a plain rotation is not an event');
      test.clock.advance(test.config.refreshReuseIntervalSeconds + 1);
      const reused = await step(test, () =>
        app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(tokens.refresh_token) }),
      );
      assert.equal(only(reused, 'refresh.reuse_detected').userId, userId);

      const other = await login(app, credentials);
      const third = await login(app, credentials);
      const loggedOut = await step(test, () =>
        app.inject({
          method: 'POST',
          url: '/auth/logout',
          headers: bearer(other.access_token),
          payload: { scope: 'local' },
        }),
      );
      assert.deepEqual(only(loggedOut, 'logout').data, { scope: 'local', sessions_ended: 1 });
      const sessions = json<{ sessions: { id: string; current: boolean }[] }>(
        await app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(third.access_token) }),
      ).sessions;
      const fourth = await login(app, credentials);
      const victim = json<{ sessions: { id: string; current: boolean }[] }>(
        await app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(fourth.access_token) }),
      ).sessions.find((s) => !s.current && !sessions.some((x) => x.id === s.id && x.current));
      assert.ok(victim);
      const ended = await step(test, () =>
        app.inject({ method: 'DELETE', url: `/auth/sessions/${victim.id}`, headers: bearer(fourth.access_token) }),
      );
      assert.deepEqual(
        [only(ended, 'session.ended').sessionId, only(ended, 'session.ended').data],
        [victim.id, { reason: 'ended_by_user' }],
      );
      const revoked = await step(test, () =>
        app.inject({ method: 'POST', url: '/auth/revoke_token', headers: bearer(fourth.refresh_token) }),
      );
      assert.deepEqual(only(revoked, 'session.ended').data, { reason: 'revoked' });
    });

    it('records the refusals only a right password reaches: unproven address, disabled account', async (t) => {
      const test = await startApp(t, engine, { env: { REQUIRE_EMAIL_VERIFICATION: 'true' } });
      const { app } = test;
      const credentials = newCredentials('refused');
      const userId = await register(app, credentials);
      const attempt = () =>
        app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username: credentials.username, password: credentials.password },
        });
      const unproven = await step(test, attempt);
      assert.deepEqual(
        [only(unproven, 'login.failed').userId, only(unproven, 'login.failed').data],
        [userId, { reason: 'email_not_verified' }],
      );
      await test.stores.users.markEmailVerified(userId, credentials.email, test.clock.now());
      await test.stores.users.update(userId, { disabled: true }, test.clock.now());
      const disabled = await step(test, attempt);
      assert.deepEqual(only(disabled, 'login.failed').data, { reason: 'disabled' });
    });

    it('records nothing for requests that change nothing', async (t) => {
      const test = await startApp(t, engine);
      const { app } = test;
      const { tokens } = await signUp(app);
      const quiet = await step(test, async () => {
        await app.inject({
          method: 'POST',
          url: '/auth/register',
          payload: { username: 'x', email: 'bad', password: '1' },
        });
        await app.inject({ method: 'POST', url: '/auth/login', payload: { password: 'missing username' } });
        await app.inject({ method: 'GET', url: '/auth/whoami', headers: bearer(tokens.access_token) });
        await app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(tokens.access_token) });
        await app.inject({
          method: 'POST',
          url: '/auth/password',
          headers: bearer(tokens.access_token),
          payload: { current_password: 'not the password', new_password: 'another fine passphrase' },
        });
        await app.inject({ method: 'POST', url: '/auth/verify', payload: { token: 'A'.repeat(43) } });
        await app.inject({ method: 'GET', url: '/health' });
      });
      assert.deepEqual(quiet, []);
    });

    it('records password, email and MFA changes, and admin actions with the acting admin', async (t) => {
      const mail = await startMailServer(t);
      const test = await startApp(t, engine, { env: { SMTP_URL: mail.url, MAIL_MIN_INTERVAL: '1' } });
      const { app } = test;
      const credentials = newCredentials('changes');
      const userId = await register(app, credentials);
      const verification = await mail.waitFor((m) => m.to === credentials.email);
      const verified = await step(test, () =>
        app.inject({ method: 'POST', url: '/auth/verify', payload: { token: linkToken(verification) } }),
      );
      assert.equal(only(verified, 'email.verified').userId, userId);

      let tokens = await login(app, credentials);
      const changed = await step(test, () =>
        app.inject({
          method: 'POST',
          url: '/auth/password',
          headers: bearer(tokens.access_token),
          payload: { current_password: PASSWORD, new_password: 'a brand new passphrase' },
        }),
      );
      assert.equal(only(changed, 'password.changed').userId, userId);
      const current = { ...credentials, password: 'a brand new passphrase' };

      test.clock.advance(2);
      const requested = await step(test, async () => {
        await app.inject({
          method: 'POST',
          url: '/auth/password/forgot',
          headers: UA,
          payload: { email: credentials.email },
        });
        await mail.waitFor((m) => m.to === credentials.email && /reset-password/.test(m.text));
      });
      const request = only(requested, 'password.reset_requested');
      assert.deepEqual([request.userId, request.ip, request.userAgent], [userId, '127.0.0.1', 'AuditTest/1.0']);
      const resetMail = await mail.waitFor((m) => m.to === credentials.email && /reset-password/.test(m.text));
      const reset = await step(test, () =>
        app.inject({
          method: 'POST',
          url: '/auth/password/reset',
          payload: { token: linkToken(resetMail), new_password: 'the third passphrase' },
        }),
      );
      assert.equal(only(reset, 'password.reset').userId, userId);
      current.password = 'the third passphrase';

      tokens = await login(app, current);
      test.clock.advance(2);
      await app.inject({
        method: 'POST',
        url: '/auth/email',
        headers: bearer(tokens.access_token),
        payload: { new_email: `new-${credentials.email}` },
      });
      const changeMail = await mail.waitFor((m) => m.to === `new-${credentials.email}`);
      const emailChanged = await step(test, () =>
        app.inject({ method: 'POST', url: '/auth/verify', payload: { token: linkToken(changeMail) } }),
      );
      assert.deepEqual(only(emailChanged, 'email.changed').data, { to: `new-${credentials.email}` });

      const started = json<{ factor_id: string; secret: string }>(
        await app.inject({ method: 'POST', url: '/auth/mfa/totp', headers: bearer(tokens.access_token) }),
      );
      const enrolled = await step(test, () =>
        app.inject({
          method: 'POST',
          url: `/auth/mfa/totp/${started.factor_id}/confirm`,
          headers: bearer(tokens.access_token),
          payload: { code: totpAt(started.secret, test.clock.now()) },
        }),
      );
      assert.equal(only(enrolled, 'mfa.enrolled').data?.factor_id, started.factor_id);
      const challenge = json<{ mfa_token: string }>(
        await app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username: current.username, password: current.password },
        }),
      );
      const badCode = await step(test, () =>
        app.inject({
          method: 'POST',
          url: '/auth/mfa/verify',
          payload: { mfa_token: challenge.mfa_token, code: '000000' },
        }),
      );
      assert.deepEqual(only(badCode, 'login.failed').data, { reason: 'mfa_failed' });

      const { tokens: adminTokens, userId: adminId } = await signUpAdmin(test);
      const admin = bearer(adminTokens.access_token);
      const disabled = await step(test, () =>
        app.inject({ method: 'PATCH', url: `/users/${userId}`, headers: admin, payload: { disabled: true } }),
      );
      const disabledEvent = only(disabled, 'user.disabled');
      assert.deepEqual([disabledEvent.userId, disabledEvent.actorId], [userId, adminId]);
      const enabled = await step(test, () =>
        app.inject({
          method: 'PATCH',
          url: `/users/${userId}`,
          headers: admin,
          payload: { disabled: false, roles: ['editor'] },
        }),
      );
      assert.equal(only(enabled, 'user.enabled').actorId, adminId);
      assert.deepEqual(only(enabled, 'user.roles_changed').data, { from: '', to: 'editor' });
      const same = await step(test, () =>
        app.inject({ method: 'PATCH', url: `/users/${userId}`, headers: admin, payload: { disabled: false } }),
      );
      assert.deepEqual(same, [], 'a patch that changes nothing records nothing');
      const mfaReset = await step(test, () =>
        app.inject({ method: 'DELETE', url: `/users/${userId}/mfa`, headers: admin }),
      );
      assert.equal(only(mfaReset, 'mfa.removed').actorId, adminId);
      const deleted = await step(test, () => app.inject({ method: 'DELETE', url: `/users/${userId}`, headers: admin }));
      assert.deepEqual(
        [only(deleted, 'user.deleted').userId, only(deleted, 'user.deleted').actorId],
        [userId, adminId],
      );
      assert.ok(
        (await eventsSince(test)).some((e) => e.userId === userId),
        "a deleted user's record outlives it",
      );

      const everything = JSON.stringify(await eventsSince(test));
      for (const secret of [
        PASSWORD,
        'a brand new passphrase',
        'the third passphrase',
        tokens.access_token,
        tokens.refresh_token,
        started.secret,
        linkToken(resetMail),
        challenge.mfa_token,
      ]) {
        assert.ok(!everything.includes(secret), 'nothing secret in the audit log');
      }
    });

    it('records a recovery code used, and removing a factor', async (t) => {
      const test = await startApp(t, engine);
      const { app } = test;
      const credentials = newCredentials('recovery');
      const userId = await register(app, credentials);
      const tokens = await login(app, credentials);
      const started = json<{ factor_id: string; secret: string }>(
        await app.inject({ method: 'POST', url: '/auth/mfa/totp', headers: bearer(tokens.access_token) }),
      );
      const { recovery_codes } = json<{ recovery_codes: string[] }>(
        await app.inject({
          method: 'POST',
          url: `/auth/mfa/totp/${started.factor_id}/confirm`,
          headers: bearer(tokens.access_token),
          payload: { code: totpAt(started.secret, test.clock.now()) },
        }),
      );
      const challenge = json<{ mfa_token: string }>(
        await app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username: credentials.username, password: credentials.password },
        }),
      );
      const used = await step(test, () =>
        app.inject({
          method: 'POST',
          url: '/auth/mfa/verify',
          payload: { mfa_token: challenge.mfa_token, recovery_code: recovery_codes[0] },
        }),
      );
      assert.equal(only(used, 'mfa.recovery_code_used').userId, userId);
      assert.deepEqual(only(used, 'login.succeeded').data, { aal: 2, amr: 'pwd recovery' });
      const aal2 = json<{ tokens: { access_token: string } }>(
        await app.inject({
          method: 'POST',
          url: '/auth/mfa/verify',
          payload: {
            mfa_token: json<{ mfa_token: string }>(
              await app.inject({
                method: 'POST',
                url: '/auth/login',
                payload: { username: credentials.username, password: credentials.password },
              }),
            ).mfa_token,
            recovery_code: recovery_codes[1],
          },
        }),
      ).tokens;
      const removed = await step(test, () =>
        app.inject({
          method: 'DELETE',
          url: `/auth/mfa/totp/${started.factor_id}`,
          headers: bearer(aal2.access_token),
        }),
      );
      assert.equal(only(removed, 'mfa.removed').data?.factor_id, started.factor_id);
    });

    it('serves admins newest first, filtered, a page at a time; purges past AUDIT_RETENTION', async (t) => {
      const test = await startApp(t, engine, { env: { AUDIT_RETENTION: '1d', PURGE_INTERVAL: '1' } });
      const { app } = test;
      const { tokens: adminTokens } = await signUpAdmin(test);
      const admin = bearer(adminTokens.access_token);
      const member = await signUp(app, 'member');
      for (let i = 0; i < 5; i++) {
        test.clock.advance(1);
        await login(app, member.credentials);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = `/admin/audit?user=${member.userId}&type=login.succeeded&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
        const page = json<{
          events: { id: string; at: string; type: string; user_id: string }[];
          next_cursor: string | null;
        }>(await app.inject({ method: 'GET', url: query, headers: admin }));
        assert.ok(page.events.length <= 2);
        for (const event of page.events) {
          assert.equal(event.user_id, member.userId);
          seen.push(event.at);
        }
        cursor = page.next_cursor;
      } while (cursor !== null);
      assert.equal(seen.length, 6, 'the sign-up login and five more');
      assert.deepEqual([...seen].sort().reverse(), seen, 'newest first');
      const since = new Date(test.clock.now() - 2500).toISOString();
      const recent = json<{ events: unknown[] }>(
        await app.inject({
          method: 'GET',
          url: `/admin/audit?user=${member.userId}&since=${encodeURIComponent(since)}`,
          headers: admin,
        }),
      );
      assert.equal(recent.events.length, 3);
      const forbidden = await app.inject({
        method: 'GET',
        url: '/admin/audit',
        headers: bearer(member.tokens.access_token),
      });
      assert.equal(json(forbidden).error, 'forbidden');
      const badCursor = await app.inject({
        method: 'GET',
        url: '/admin/audit?cursor=bm90LWEtY3Vyc29y',
        headers: admin,
      });
      assert.equal(json(badCursor).error, 'validation_failed');

      // A day on, the purge (every PURGE_INTERVAL) drops what is older than AUDIT_RETENTION only.
      test.clock.advance(86400 + 60);
      const later = await signUp(app, 'later');
      await eventually(
        async () => (await test.stores.audit.list({ limit: 10_000 })).every((e) => e.userId === later.userId),
        'the purge',
      );
      assert.equal(
        (await test.stores.audit.list({ limit: 10_000 })).length,
        2,
        "the newcomer's sign-up and login stay",
      );
    });
  });
}
