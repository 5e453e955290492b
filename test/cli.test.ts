import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { PASSWORD, SECRET } from './helpers.js';
import { startMailServer } from './mail-server.js';
import { MAIN, startServer, TSX } from './server-process.js';
import { tempDir } from './temp-dir.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tessera(args: string[], env: Record<string, string>, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      cwd: env.DATA_DIR,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdin.end(input ?? '');
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function environment(): Record<string, string> {
  return { DATA_DIR: tempDir('tessera-cli-'), SECRET_KEY: SECRET };
}

describe('tessera CLI', () => {
  it('user create reads the password from stdin; user promote grants a role', async () => {
    const env = environment();
    const created = await tessera(
      ['user', 'create', '--username', 'root', '--email', 'root@example.com'],
      env,
      `${PASSWORD}\n`,
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /Created user root \([0-9a-f-]{36}\)\./);
    const admin = await tessera(
      ['user', 'create', '--username', 'boss', '--email', 'boss@example.com', '--admin'],
      env,
      PASSWORD,
    );
    assert.match(admin.stdout, /with role admin/);
    const promoted = await tessera(['user', 'promote', 'ROOT', '--role', 'admin'], env);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, /root now has roles: admin\./);
  });

  it('fails with exit 1 and a clear message on bad input, and 2 on wrong usage', async () => {
    const env = environment();
    const weak = await tessera(['user', 'create', '--username', 'x', '--email', 'nope'], env, 'password');
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /username: too_short/);
    assert.match(weak.stderr, /email: invalid_format/);
    assert.match(weak.stderr, /password: too_common/);
    await tessera(['user', 'create', '--username', 'dup', '--email', 'dup@example.com'], env, PASSWORD);
    const dup = await tessera(['user', 'create', '--username', 'DUP', '--email', 'dup2@example.com'], env, PASSWORD);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists/);
    const unknown = await tessera(['user', 'promote', 'ghost', '--role', 'admin'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /No user named ghost/);
    for (const args of [
      ['frobnicate'],
      ['user', 'create', '--username', 'a'],
      ['user', 'create', '--bogus'],
      ['user'],
    ]) {
      const run = await tessera(args, env);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, /Usage: tessera/);
    }
  });

  it('migrate applies the schema once; bad configuration stops with one line per problem', async () => {
    const env = environment();
    const first = await tessera(['migrate'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Applied: 2026-11-24-001-initial/);
    assert.match((await tessera(['migrate'], env)).stdout, /up to date/);
    const bad = await tessera(['serve'], { ...env, PORT: 'x', NODE_ENV: 'production', SECRET_KEY: '' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /PORT="x" is not valid/);
    assert.match(bad.stderr, /SECRET_KEY is required with NODE_ENV=production/);
  });

  it('serve answers over real HTTP and drains on SIGTERM, exiting 0', async () => {
    const env = environment();
    const server = await startServer(env);
    const register = await fetch(`${server.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'served', email: 'served@example.com', password: PASSWORD }),
    });
    assert.equal(register.status, 201);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    assert.match(server.output(), /shutting down/);
  });

  it('mail test sends through SMTP_URL at once; mail status lists what waits and what failed for good', async (t) => {
    const mail = await startMailServer(t);
    const env = { ...environment(), SMTP_URL: mail.url };
    const sent = await tessera(['mail', 'test', '--to', 'ops@example.com'], env);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /Sent a test mail to ops@example\.com through SMTP_URL/);
    assert.match((await mail.waitFor((m) => m.to === 'ops@example.com')).subject, /Test mail/);

    // A sign-up whose mail is refused for good, by a server running on its own.
    mail.rejectRecipient('gone@example.com');
    const server = await startServer(env, t);
    const registered = await fetch(`${server.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'gone', email: 'gone@example.com', password: PASSWORD }),
    });
    assert.equal(registered.status, 201);
    let status = await tessera(['mail', 'status'], env);
    for (let i = 0; i < 50 && !/ 1 failed for good/.test(status.stdout); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = await tessera(['mail', 'status'], env);
    }
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^0 waiting to be sent; 0 sent in the last 7 days; 1 failed for good/);
    assert.match(status.stdout, /mail {2}gone@example\.com {2}after 1 attempt\(s\): .*550/);
    assert.equal((await tessera(['mail', 'test'], env)).code, 2, 'no --to is a usage error');
  });

  it('keys rotate is recorded; audit tail prints the newest events as JSON lines and follows new ones', async () => {
    const env: Record<string, string> = { ...environment(), JWT_ALGORITHM: 'EdDSA' };
    assert.equal(
      (await tessera(['user', 'create', '--username', 'tail', '--email', 'tail@example.com'], env, PASSWORD)).code,
      0,
    );
    const rotated = await tessera(['keys', 'rotate'], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    const tail = await tessera(['audit', 'tail', '-n', '5'], env);
    assert.equal(tail.code, 0, tail.stderr);
    const lines = tail.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; data: Record<string, unknown> });
    assert.deepEqual(
      lines.map((l) => l.type),
      ['user.registered', 'key.rotated'],
      'oldest first',
    );
    assert.match(String(lines[1]?.data.kid), /\S+/);

    const follower = spawn(process.execPath, ['--import', TSX, MAIN, 'audit', 'tail', '--follow', '-n', '1'], {
      env: { PATH: process.env.PATH ?? '', ...env },
      cwd: env.DATA_DIR,
    });
    let followed = '';
    follower.stdout.on('data', (chunk) => (followed += chunk));
    try {
      const deadline = Date.now() + 20_000;
      while (!followed.includes('key.rotated') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal((await tessera(['user', 'promote', 'tail', '--role', 'admin'], env)).code, 0);
      while (!followed.includes('user.roles_changed') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      assert.match(followed, /"type":"user.roles_changed"/);
    } finally {
      follower.kill('SIGINT');
    }
    assert.equal((await tessera(['audit', 'nope'], env)).code, 2);
  });

  it('client create prints an id and a secret once; list and delete', async () => {
    const env = environment();
    const created = await tessera(['client', 'create', 'orders-service'], env);
    assert.equal(created.code, 0, created.stderr);
    const id = /client id: +(rs_[0-9a-f]+)/.exec(created.stdout)?.[1];
    const secret = /client secret: +(tsk_[\w-]+)/.exec(created.stdout)?.[1];
    assert.ok(id && secret);
    assert.equal((await tessera(['client', 'create', 'orders-service'], env)).code, 1, 'names are unique');
    const listed = await tessera(['client', 'list'], env);
    assert.match(listed.stdout, new RegExp(`orders-service {2}${id}`));
    assert.ok(!listed.stdout.includes(secret), 'the secret is never shown again');
    assert.equal((await tessera(['client', 'delete', 'orders-service'], env)).code, 0);
    assert.match((await tessera(['client', 'list'], env)).stdout, /No clients\./);
    assert.equal((await tessera(['client', 'delete', 'orders-service'], env)).code, 1);
    assert.equal((await tessera(['client'], env)).code, 2);
  });
});
