import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pbkdf2Sync, scryptSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { importFlaskUsers } from '../src/core/flask-import.js';
import { werkzeugVerifier } from '../src/core/werkzeug-hashes.js';
import { readFlaskUsers } from '../src/store/flask-source.js';
import { ENGINES } from './engines.js';
import { json, startApp } from './helpers.js';
import { tempDir } from './temp-dir.js';

const FLASK_PASSWORD = 'flask-era password 1';

// Made by Werkzeug 3.1.8's generate_password_hash(FLASK_PASSWORD, method=…), for the methods named.
const WERKZEUG = {
  scryptDefault:
    'scrypt:32768:8:1$QHgd9fsDcbkZqIpm$c8abd73a2e84d827ab3b5abbacb18936c95acd2d0b35a19e9a3274bd7bcfd2780d79714a1d0ec54c5bb1981b7ba561f41704ffcf0791d1b51d2b5f185bf1fe39',
  pbkdf2Default:
    'pbkdf2:sha256:1000000$bZSvhazNXC31vHFz$84c21c2d79780475da7586f88deca862e918d2c61fb331d8f82f98a78a3dd9df',
  pbkdf2At260000:
    'pbkdf2:sha256:260000$Lx880y9NZl6QCr1u$38ca9842eec50993ef2e099d02c1f98cba7e01ac959f7047e7242cd022301068',
  pbkdf2At600000:
    'pbkdf2:sha256:600000$8E8XnZKpiryM769j$24c7485694f2214d8c7487ef6ef08a853307be1d6fe9388c6e96b73e6056a107',
};

/** Werkzeug's formats computed from their documented definitions: KDF over the salt *string*. */
function pbkdf2Hash(password: string, salt: string, iterations: number): string {
  return `pbkdf2:sha256:${iterations}$${salt}$${pbkdf2Sync(password, salt, iterations, 32, 'sha256').toString('hex')}`;
}
function scryptHash(password: string, salt: string, n: number, r: number, p: number): string {
  const key = scryptSync(password, salt, 64, { N: n, r, p, maxmem: 132 * n * r * p + (1 << 20) });
  return `scrypt:${n}:${r}:${p}$${salt}$${key.toString('hex')}`;
}

/** A database in the Flask app's schema (Flask-SQLAlchemy's users and token_block_list). */
function flaskDatabase(rows: { id: string; username: string; email: string; password: string }[]): string {
  const file = join(tempDir('flask-'), 'app.db');
  const db = new SqliteDatabase(file);
  db.exec(`
    CREATE TABLE users (id VARCHAR NOT NULL PRIMARY KEY, username VARCHAR(80) NOT NULL UNIQUE,
                        email VARCHAR(120) NOT NULL UNIQUE, password VARCHAR(200) NOT NULL);
    CREATE TABLE token_block_list (id INTEGER PRIMARY KEY, jti VARCHAR NOT NULL, create_at DATETIME NOT NULL);
  `);
  const insert = db.prepare('INSERT INTO users (id, username, email, password) VALUES (?, ?, ?, ?)');
  for (const r of rows) insert.run(r.id, r.username, r.email, r.password);
  db.close();
  return file;
}

const ROWS = [
  {
    id: 'a1b2c3d4-0000-4000-8000-000000000001',
    username: 'ada',
    email: 'ada@example.com',
    password: WERKZEUG.scryptDefault,
  },
  {
    id: 'a1b2c3d4-0000-4000-8000-000000000002',
    username: 'brian',
    email: 'brian@example.com',
    password: WERKZEUG.pbkdf2At260000,
  },
  {
    id: 'a1b2c3d4-0000-4000-8000-000000000003',
    username: 'cleo',
    email: 'cleo@example.com',
    password: WERKZEUG.pbkdf2At600000,
  },
  {
    id: 'a1b2c3d4-0000-4000-8000-000000000004',
    username: 'dmitri',
    email: 'dmitri@example.com',
    password: WERKZEUG.pbkdf2Default,
  },
  {
    id: 'a1b2c3d4-0000-4000-8000-000000000005',
    username: 'eve',
    email: 'eve@example.com',
    password: pbkdf2Hash('eve password 99', 'saltsaltsalt', 1000),
  },
  {
    id: 'a1b2c3d4-0000-4000-8000-000000000006',
    username: 'fumiko',
    email: 'fumiko@example.com',
    password: scryptHash('ünïcödé pässwörd', 'abc', 16384, 8, 1),
  },
  {
    id: 'a1b2c3d4-0000-4000-8000-000000000007',
    username: 'ADA',
    email: 'ada2@example.com',
    password: WERKZEUG.scryptDefault,
  },
  {
    id: 'a1b2c3d4-0000-4000-8000-000000000008',
    username: 'gus',
    email: 'not an email',
    password: WERKZEUG.scryptDefault,
  },
  {
    id: 'a1b2c3d4-0000-4000-8000-000000000009',
    username: 'hana',
    email: 'hana@example.com',
    password: 'md5$abc$deadbeef',
  },
];

describe('Werkzeug password hashes', () => {
  it('verifies genuine Werkzeug hashes and hashes built from the documented definitions', async () => {
    for (const hash of Object.values(WERKZEUG)) {
      assert.ok(werkzeugVerifier.accepts(hash));
      assert.equal(await werkzeugVerifier.verify(hash, FLASK_PASSWORD), true, hash.slice(0, 30));
      assert.equal(await werkzeugVerifier.verify(hash, 'flask-era password 2'), false);
    }
    assert.equal(
      await werkzeugVerifier.verify(scryptHash('ünïcödé pässwörd', 'abc', 16384, 8, 1), 'ünïcödé pässwörd'),
      true,
    );
  });

  it('refuses malformed hashes cleanly', async () => {
    for (const bad of [
      '',
      'md5$x$y',
      'pbkdf2:sha256$salt$ab',
      `pbkdf2:sha256:0$s$${'a'.repeat(64)}`,
      `scrypt:3:8:1$s$${'a'.repeat(128)}`,
      `pbkdf2:sha256:99999999$s$${'a'.repeat(64)}`,
      'scrypt:32768:8:1$s$zz',
    ]) {
      assert.equal(werkzeugVerifier.accepts(bad), false, bad);
      assert.equal(await werkzeugVerifier.verify(bad, 'anything'), false);
    }
  });
});

for (const engine of ENGINES) {
  describe(`tessera import flask [${engine}]`, () => {
    it('imports users with their ids, reports refusals, keeps passwords and rehashes at first login; a second run adds nothing', async (t) => {
      const { app, stores, clock, logs } = await startApp(t, engine);
      const file = flaskDatabase(ROWS);
      const report = await importFlaskUsers(readFlaskUsers(file), stores.users, clock);
      assert.equal(report.imported, 7);
      assert.equal(report.alreadyPresent, 0);
      assert.deepEqual(
        report.refused.map((r) => [r.username, r.reason]),
        [
          ['ADA', 'username or email already taken (compared ignoring case, after NFKC)'],
          ['gus', 'email invalid format'],
        ],
      );
      assert.equal((await stores.users.findById(ROWS[0]?.id ?? ''))?.username, 'ada');

      const logins: [string, string][] = [
        ['ada', FLASK_PASSWORD],
        ['brian', FLASK_PASSWORD],
        ['cleo@example.com', FLASK_PASSWORD],
        ['dmitri', FLASK_PASSWORD],
        ['eve', 'eve password 99'],
        ['fumiko', 'ünïcödé pässwörd'],
      ];
      for (const [username, password] of logins) {
        const wrong = await app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { username, password: 'wrong password!' },
        });
        assert.equal(wrong.statusCode, 401, username);
        const before = await stores.users.findByUsernameKey(username.replace('@example.com', ''));
        assert.match(before?.passwordHash ?? '', /^(pbkdf2|scrypt):/);
        const response = await app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } });
        assert.equal(response.statusCode, 200, `${username}: ${response.body}`);
        const after = await stores.users.findById(before?.id ?? '');
        assert.match(after?.passwordHash ?? '', /^\$argon2id\$/, `${username} rehashed`);
        const again = await app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } });
        assert.equal(again.statusCode, 200, 'the new hash works');
        const whoami = await app.inject({
          method: 'GET',
          url: '/auth/whoami',
          headers: { authorization: `Bearer ${json<{ tokens: { access_token: string } }>(again).tokens.access_token}` },
        });
        assert.equal(
          json<{ user_details: { id: string } }>(whoami).user_details.id,
          before?.id,
          'the Flask id is kept',
        );
      }

      const unreadable = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: 'hana', password: 'whatever it was' },
      });
      assert.equal(unreadable.statusCode, 401);
      assert.equal(json(unreadable).error, 'invalid_credentials');
      const warning = logs.find((line) => line.includes('unknown format'));
      assert.ok(warning, 'the unreadable hash is logged');
      assert.doesNotMatch(warning, /deadbeef|md5/, 'without the hash');

      const second = await importFlaskUsers(readFlaskUsers(file), stores.users, clock);
      assert.deepEqual(
        { imported: second.imported, alreadyPresent: second.alreadyPresent },
        { imported: 0, alreadyPresent: 7 },
      );
      assert.equal((await stores.users.list(0, 100)).total, 7);
    });
  });
}

describe('tessera import flask (command)', () => {
  const run = (args: string[], dir: string) =>
    spawnSync(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), join(import.meta.dirname, '..', 'src', 'main.ts'), ...args],
      {
        env: { PATH: process.env.PATH ?? '', DATA_DIR: dir, SECRET_KEY: 'x'.repeat(40) },
        cwd: dir,
        encoding: 'utf8',
      },
    );

  it('reports counts and refusals, and changes nothing for a file that is not a Flask database', () => {
    const dir = tempDir('tessera-import-');
    const file = flaskDatabase(ROWS.slice(0, 2));
    const first = run(['import', 'flask', file], dir);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /Imported 2 users; 0 were already present; 0 refused\./);
    const second = run(['import', 'flask', file], dir);
    assert.match(second.stdout, /Imported 0 users; 2 were already present; 0 refused\./);

    const notSqlite = join(dir, 'notes.txt');
    writeFileSync(notSqlite, 'hello');
    const other = new SqliteDatabase(join(dir, 'other.db'));
    other.exec('CREATE TABLE accounts (id INTEGER)');
    other.close();
    for (const bad of [notSqlite, join(dir, 'other.db'), join(dir, 'missing.db')]) {
      const result = run(['import', 'flask', bad], dir);
      assert.equal(result.status, 1, bad);
      assert.match(result.stderr, /nothing was imported|not a SQLite database|Cannot open/);
    }
    const users = new SqliteDatabase(join(dir, 'tessera.sqlite3'), { readonly: true });
    assert.equal((users.prepare('select count(*) as n from users').get() as { n: number }).n, 2);
    users.close();
  });
});
