import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import { bearer, json, login, newCredentials, register, signUp, signUpAdmin, startApp, whoami } from './helpers.js';

interface UserPage {
  users: { id: string; username: string; email: string; roles: string[]; disabled: boolean; created_at: string }[];
  page: number;
  per_page: number;
  total: number;
}

for (const engine of ENGINES) {
  describe(`user administration [${engine}]`, () => {
    it('lists users with the Flask paging defaults (page 1, 3 per page) on /users/all and /users', async (t) => {
      const test = await startApp(t, engine);
      const admin = await signUpAdmin(test);
      for (let i = 0; i < 4; i++) {
        test.clock.advance(1);
        await register(test.app, newCredentials('member'));
      }
      for (const url of ['/users/all', '/users']) {
        const first = await test.app.inject({ method: 'GET', url, headers: bearer(admin.tokens.access_token) });
        assert.equal(first.statusCode, 200);
        const body = json<UserPage>(first);
        assert.equal(body.page, 1);
        assert.equal(body.per_page, 3);
        assert.equal(body.total, 5);
        assert.equal(body.users.length, 3);
        assert.equal(body.users[0]?.id, admin.userId, 'oldest first');
        assert.deepEqual(Object.keys(body.users[0] ?? {}).sort(), [
          'created_at',
          'disabled',
          'email',
          'email_verified',
          'id',
          'roles',
          'username',
        ]);
      }
      const second = json<UserPage>(
        await test.app.inject({
          method: 'GET',
          url: '/users/all?page=2&per_page=3',
          headers: bearer(admin.tokens.access_token),
        }),
      );
      assert.equal(second.users.length, 2);
      const beyond = json<UserPage>(
        await test.app.inject({ method: 'GET', url: '/users?page=9', headers: bearer(admin.tokens.access_token) }),
      );
      assert.deepEqual(beyond.users, []);
      for (const query of ['page=0', 'per_page=101', 'page=abc', 'per_page=-1']) {
        const bad = await test.app.inject({
          method: 'GET',
          url: `/users?${query}`,
          headers: bearer(admin.tokens.access_token),
        });
        assert.equal(bad.statusCode, 400, query);
        assert.equal(json(bad).error, 'validation_failed');
      }
    });

    it('answers 401 without a token and 403 forbidden without the admin role', async (t) => {
      const test = await startApp(t, engine);
      const member = await signUp(test.app);
      const anonymous = await test.app.inject({ method: 'GET', url: '/users/all' });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(json(anonymous).error, 'authorization_required');
      for (const [method, url] of [
        ['GET', '/users/all'],
        ['GET', '/users'],
        ['GET', `/users/${member.userId}`],
        ['PATCH', `/users/${member.userId}`],
        ['DELETE', `/users/${member.userId}`],
      ] as const) {
        const response = await test.app.inject({
          method,
          url,
          headers: bearer(member.tokens.access_token),
          ...(method === 'PATCH' && { payload: { roles: ['admin'] } }),
        });
        assert.equal(response.statusCode, 403, `${method} ${url}`);
        assert.equal(json(response).error, 'forbidden');
      }
      assert.deepEqual((await test.stores.users.findById(member.userId))?.roles, []);
    });

    it('reads one user, changes roles, and says 404 for an unknown id', async (t) => {
      const test = await startApp(t, engine);
      const admin = await signUpAdmin(test);
      const member = await signUp(test.app);
      const read = await test.app.inject({
        method: 'GET',
        url: `/users/${member.userId}`,
        headers: bearer(admin.tokens.access_token),
      });
      assert.equal(json(read).username, member.credentials.username);
      const patched = await test.app.inject({
        method: 'PATCH',
        url: `/users/${member.userId}`,
        headers: bearer(admin.tokens.access_token),
        payload: { roles: ['editor', 'editor', 'admin'] },
      });
      assert.equal(patched.statusCode, 200);
      assert.deepEqual(json(patched).roles, ['editor', 'admin']);
      const asAdminNow = await test.app.inject({
        method: 'GET',
        url: '/users',
        headers: bearer(member.tokens.access_token),
      });
      assert.equal(asAdminNow.statusCode, 200, 'roles are read from the store on each request');
      const badRole = await test.app.inject({
        method: 'PATCH',
        url: `/users/${member.userId}`,
        headers: bearer(admin.tokens.access_token),
        payload: { roles: ['Not A Role!'] },
      });
      assert.equal(badRole.statusCode, 400);
      for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
        const missing = await test.app.inject({
          method,
          url: '/users/no-such-user',
          headers: bearer(admin.tokens.access_token),
          ...(method === 'PATCH' && { payload: { disabled: true } }),
        });
        assert.equal(missing.statusCode, 404);
        assert.equal(json(missing).error, 'not_found');
      }
    });

    it('disabling a user stops its live tokens at once; its login then says account_disabled only with the right password', async (t) => {
      const test = await startApp(t, engine);
      const admin = await signUpAdmin(test);
      const member = await signUp(test.app);
      const response = await test.app.inject({
        method: 'PATCH',
        url: `/users/${member.userId}`,
        headers: bearer(admin.tokens.access_token),
        payload: { disabled: true },
      });
      assert.equal(response.statusCode, 200);
      assert.equal(json(response).disabled, true);
      assert.equal(json(await whoami(test.app, member.tokens.access_token)).error, 'token_revoked');
      const refresh = await test.app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(member.tokens.refresh_token),
      });
      assert.equal(json(refresh).error, 'token_revoked');

      const right = await test.app.inject({ method: 'POST', url: '/auth/login', payload: member.credentials });
      assert.equal(right.statusCode, 403);
      assert.equal(json(right).error, 'account_disabled');
      const wrong = await test.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { ...member.credentials, password: 'wrong password here' },
      });
      assert.equal(wrong.statusCode, 401);
      assert.equal(json(wrong).error, 'invalid_credentials');

      await test.app.inject({
        method: 'PATCH',
        url: `/users/${member.userId}`,
        headers: bearer(admin.tokens.access_token),
        payload: { disabled: false },
      });
      await login(test.app, member.credentials);
    });

    it('deleting a user stops its tokens at once and frees its name', async (t) => {
      const test = await startApp(t, engine);
      const admin = await signUpAdmin(test);
      const member = await signUp(test.app);
      const response = await test.app.inject({
        method: 'DELETE',
        url: `/users/${member.userId}`,
        headers: bearer(admin.tokens.access_token),
      });
      assert.equal(response.statusCode, 200);
      assert.equal(json(await whoami(test.app, member.tokens.access_token)).error, 'invalid_token');
      assert.equal(await test.stores.users.findById(member.userId), undefined);
      await register(test.app, member.credentials);
    });

    it('an admin cannot disable, demote or delete itself', async (t) => {
      const test = await startApp(t, engine);
      const admin = await signUpAdmin(test);
      for (const [method, payload] of [
        ['PATCH', { disabled: true }],
        ['PATCH', { roles: [] }],
        ['DELETE', undefined],
      ] as const) {
        const response = await test.app.inject({
          method,
          url: `/users/${admin.userId}`,
          headers: bearer(admin.tokens.access_token),
          ...(payload && { payload }),
        });
        assert.equal(response.statusCode, 403);
      }
      assert.equal((await whoami(test.app, admin.tokens.access_token)).statusCode, 200);
    });
  });
}
