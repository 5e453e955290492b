import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINES } from './engines.js';
import { json, newCredentials, PASSWORD, register, startApp } from './helpers.js';

interface ErrorBody {
  error: string;
  message: string;
  details?: { field: string; problem: string }[];
}

for (const engine of ENGINES) {
  describe(`register [${engine}]`, () => {
    it('creates a user and answers the Flask body with 201', async (t) => {
      const { app, stores } = await startApp(t, engine);
      const response = await app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { username: 'Alice', email: 'Alice@Example.com', password: PASSWORD },
      });
      assert.equal(response.statusCode, 201);
      const body = json(response);
      assert.equal(body.message, 'User registered successfully');
      assert.match(String(body.user_id), /^[0-9a-f-]{36}$/);
      const stored = await stores.users.findById(String(body.user_id));
      assert.equal(stored?.username, 'Alice');
      assert.equal(stored?.email, 'Alice@Example.com');
      assert.match(stored?.passwordHash ?? '', /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      assert.deepEqual(stored?.roles, []);
    });

    it('gives every user its own id', async (t) => {
      const { app } = await startApp(t, engine);
      const first = await register(app, newCredentials());
      const second = await register(app, newCredentials());
      assert.notEqual(first, second);
    });

    it('refuses a taken username or email ignoring case and NFKC look-alikes, with 409', async (t) => {
      const { app } = await startApp(t, engine);
      await register(app, { username: 'bob', email: 'bob@example.com', password: PASSWORD });
      const cases = [
        { username: 'BOB', email: 'other1@example.com', field: 'username' },
        { username: 'ｂｏｂ', email: 'other2@example.com', field: 'username' }, // full-width letters
        { username: 'robert', email: 'BOB@EXAMPLE.COM', field: 'email' },
        { username: 'roberta', email: 'ｂob@example.com', field: 'email' },
      ];
      for (const c of cases) {
        const response = await app.inject({
          method: 'POST',
          url: '/auth/register',
          payload: { username: c.username, email: c.email, password: PASSWORD },
        });
        assert.equal(response.statusCode, 409, `${c.username} / ${c.email}`);
        const body = json<ErrorBody>(response);
        assert.equal(body.error, 'user_exists');
        assert.deepEqual(body.details, [{ field: c.field, problem: 'taken' }]);
      }
    });

    it('names each broken rule in details and stores nothing', async (t) => {
      const { app, stores } = await startApp(t, engine);
      const cases: [Record<string, unknown>, { field: string; problem: string }[]][] = [
        [{ username: 'ab', email: 'a@example.com', password: PASSWORD }, [{ field: 'username', problem: 'too_short' }]],
        [
          { username: 'a'.repeat(33), email: 'a@example.com', password: PASSWORD },
          [{ field: 'username', problem: 'too_long' }],
        ],
        [
          { username: 'has space', email: 'a@example.com', password: PASSWORD },
          [{ field: 'username', problem: 'invalid_characters' }],
        ],
        [
          { username: 'nul\u0000byte', email: 'a@example.com', password: PASSWORD },
          [{ field: 'username', problem: 'invalid_characters' }],
        ],
        [
          { username: 'carol', email: 'not-an-email', password: PASSWORD },
          [{ field: 'email', problem: 'invalid_format' }],
        ],
        [
          { username: 'carol', email: 'a@localhost', password: PASSWORD },
          [{ field: 'email', problem: 'invalid_format' }],
        ],
        [
          { username: 'carol', email: `${'a'.repeat(250)}@x.io`, password: PASSWORD },
          [{ field: 'email', problem: 'too_long' }],
        ],
        [
          { username: 'carol', email: 'c@example.com', password: 'short' },
          [{ field: 'password', problem: 'too_short' }],
        ],
        [
          { username: 'carol', email: 'c@example.com', password: 'x'.repeat(257) },
          [{ field: 'password', problem: 'too_long' }],
        ],
        [
          { username: 'carol', email: 'c@example.com', password: 'password1' },
          [{ field: 'password', problem: 'too_common' }],
        ],
        [
          { username: 'carol', email: 'c@example.com', password: 'Sunshine' },
          [{ field: 'password', problem: 'too_common' }],
        ],
        [{ email: 'c@example.com', password: PASSWORD }, [{ field: 'username', problem: 'required' }]],
        [
          { username: 12345, email: 'c@example.com', password: PASSWORD },
          [{ field: 'username', problem: 'wrong_type' }],
        ],
        [
          { username: 'carol', email: 'c@example.com', password: 12345678 },
          [{ field: 'password', problem: 'wrong_type' }],
        ],
        [
          { username: ['carol'], email: { x: 1 }, password: PASSWORD },
          [
            { field: 'username', problem: 'wrong_type' },
            { field: 'email', problem: 'wrong_type' },
          ],
        ],
        [
          {},
          [
            { field: 'username', problem: 'required' },
            { field: 'email', problem: 'required' },
            { field: 'password', problem: 'required' },
          ],
        ],
      ];
      for (const [payload, details] of cases) {
        const response = await app.inject({ method: 'POST', url: '/auth/register', payload });
        assert.equal(response.statusCode, 400, JSON.stringify(payload).slice(0, 80));
        const body = json<ErrorBody>(response);
        assert.equal(body.error, 'validation_failed');
        assert.deepEqual(body.details, details, JSON.stringify(payload).slice(0, 80));
      }
      assert.equal((await stores.users.list(0, 10)).total, 0);
    });

    it('ignores unknown fields: extra roles, __proto__ and constructor grant and store nothing', async (t) => {
      const { app, stores } = await startApp(t, engine);
      const payload =
        '{"username":"mallory","email":"m@example.com","password":"' +
        PASSWORD +
        '","roles":["admin"],"disabled":true,"id":"chosen-id","__proto__":{"roles":["admin"]},"constructor":{"prototype":{"admin":true}}}';
      const response = await app.inject({
        method: 'POST',
        url: '/auth/register',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      assert.equal(response.statusCode, 201, response.body);
      const id = String(json(response).user_id);
      assert.notEqual(id, 'chosen-id');
      const stored = await stores.users.findById(id);
      assert.deepEqual(stored?.roles, []);
      assert.equal(stored?.disabled, false);
      assert.equal(({} as Record<string, unknown>).admin, undefined);
    });

    it('answers non-JSON with 415, oversize with 413 and broken JSON with 400, all as JSON', async (t) => {
      const { app, stores } = await startApp(t, engine);
      const attempts = [
        {
          headers: { 'content-type': 'text/plain' },
          payload: 'username=x',
          status: 415,
          code: 'unsupported_media_type',
        },
        {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'a=b',
          status: 415,
          code: 'unsupported_media_type',
        },
        {
          headers: { 'content-type': 'application/json' },
          payload: `{"username":"${'x'.repeat(17000)}"}`,
          status: 413,
          code: 'payload_too_large',
        },
        {
          headers: { 'content-type': 'application/json' },
          payload: '{"username": "x",',
          status: 400,
          code: 'validation_failed',
        },
        { headers: { 'content-type': 'application/json' }, payload: '[1,2,3]', status: 400, code: 'validation_failed' },
        {
          headers: { 'content-type': 'application/json' },
          payload: '"just a string"',
          status: 400,
          code: 'validation_failed',
        },
        { headers: { 'content-type': 'application/json' }, payload: '', status: 400, code: 'validation_failed' },
      ];
      for (const attempt of attempts) {
        const response = await app.inject({ method: 'POST', url: '/auth/register', ...attempt });
        assert.equal(response.statusCode, attempt.status, attempt.payload.slice(0, 40));
        assert.match(String(response.headers['content-type']), /^application\/json/);
        assert.equal(json<ErrorBody>(response).error, attempt.code);
      }
      assert.equal((await stores.users.list(0, 10)).total, 0);
    });
  });
}
