/**
 * Test harness: every test builds the real app on a real store of its own (a temporary SQLite
 * file, or a throwaway PostgreSQL database) and talks to it through `inject`, with a clock it
 * controls so that expiry is tested without sleeping.
 */
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import SqliteDatabase from 'better-sqlite3';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import type { Clock } from '../src/clock.js';
import { type Config, loadConfig } from '../src/config.js';
import { createPasswordHasher, type PasswordHasher } from '../src/core/password-hasher.js';
import { werkzeugVerifier } from '../src/core/werkzeug-hashes.js';
import { openStores } from '../src/store/open.js';
import type { RedisMirror } from '../src/store/redis.js';
import type { Stores } from '../src/store/types.js';
import { checkAnswersAgainstDocument } from './documented-answers.js';
import { createRedisPrefix, createTestDatabase, type Engine, REDIS_TEST_URL } from './engines.js';
import { tempDir } from './temp-dir.js';

export const SECRET = 'test-secret-that-is-long-enough-for-production-use-0123456789';
export const PASSWORD = 'correct horse battery staple';

/**
 * Starts at the real time (Redis expires keys by the real clock, so the two must agree), then
 * moves only when a test advances it.
 */
export class TestClock implements Clock {
  constructor(public ms = Math.floor(Date.now() / 1000) * 1000) {}
  now(): number {
    return this.ms;
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

let sharedHasher: Promise<PasswordHasher> | undefined;
/** One hasher per test process: the dummy hash it prepares costs a full argon2id run. */
export function testHasher(config: Config): Promise<PasswordHasher> {
  sharedHasher ??= createPasswordHasher(config.argon2, [werkzeugVerifier]);
  return sharedHasher;
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  stores: Stores;
  /** The Redis fast path behind `stores`, with REDIS_URL. */
  redis: RedisMirror | undefined;
  clock: TestClock;
  dir: string;
  logs: string[];
  databaseUrl: string;
  redisPrefix: string | undefined;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  clock?: TestClock;
  /** Reuse another app's data (to restart on the same file, or run two instances on one store). */
  sameStoreAs?: TestApp;
  /** Replaces parts of the real stores, to simulate a failing dependency. */
  wrapStores?: (stores: Stores) => Stores;
  /** The app makes its own password hasher (reporting to metrics) instead of the shared one. */
  ownHasher?: boolean;
}

/** Where teardown is registered: a test's context, or a suite's own list. */
export type Teardown = { after(fn: () => unknown): void };

/** Builds an app for one test and tears it, its store and its files down afterwards. */
export async function startApp(t: Teardown, engine: Engine, options: TestAppOptions = {}): Promise<TestApp> {
  const dir = options.sameStoreAs?.dir ?? tempDir('tessera-test-');
  let databaseUrl = options.sameStoreAs?.databaseUrl;
  if (databaseUrl === undefined) {
    if (engine === 'sqlite') {
      databaseUrl = `sqlite:${join(dir, 'tessera.sqlite3')}`;
    } else {
      const db = await createTestDatabase();
      databaseUrl = db.url;
      t.after(() => db.drop());
    }
  }
  let redisPrefix = options.sameStoreAs?.redisPrefix;
  if (redisPrefix === undefined && engine === 'postgres+redis') {
    const redis = createRedisPrefix();
    redisPrefix = redis.prefix;
    t.after(() => redis.drop());
  }
  const redisEnv: Record<string, string> =
    redisPrefix === undefined ? {} : { REDIS_URL: REDIS_TEST_URL, REDIS_PREFIX: redisPrefix };
  const { config } = loadConfig(
    { SECRET_KEY: SECRET, DATA_DIR: dir, DATABASE_URL: databaseUrl, LOG_LEVEL: 'info', ...redisEnv, ...options.env },
    dir,
  );
  const clock = options.clock ?? options.sameStoreAs?.clock ?? new TestClock();
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk));
      callback();
    },
  });
  const realStores = await openStores(config, { migrate: true, clock, warn: (message) => logs.push(message) });
  // Wait for the fast path to be usable, so tests exercise it rather than its fallback.
  if (realStores.redis) await waitForRedis(realStores.redis);
  const stores = options.wrapStores ? options.wrapStores(realStores) : realStores;
  const hasher = options.ownHasher ? undefined : await testHasher(config);
  const app = await buildApp({ config, stores, clock, hasher, logStream });
  await app.ready();
  checkAnswersAgainstDocument(app);
  t.after(async () => {
    await app.close();
    await realStores.close();
    if (!options.sameStoreAs) rmSync(dir, { recursive: true, force: true });
  });
  return { app, config, stores, redis: realStores.redis, clock, dir, logs, databaseUrl, redisPrefix };
}

async function waitForRedis(mirror: RedisMirror): Promise<void> {
  for (let i = 0; i < 100 && mirror.client.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
  await mirror.resync();
}

export function json<T = Record<string, unknown>>(response: LightMyRequestResponse): T {
  return JSON.parse(response.body) as T;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A form post as a browser sends it from one of our own pages (Sec-Fetch-Site: same-origin). */
export const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' };

export interface Credentials {
  username: string;
  email: string;
  password: string;
}

let counter = 0;
export function newCredentials(prefix = 'user'): Credentials {
  counter += 1;
  return { username: `${prefix}${counter}`, email: `${prefix}${counter}@example.com`, password: PASSWORD };
}

export async function register(app: FastifyInstance, credentials: Credentials): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/auth/register', payload: credentials });
  if (response.statusCode !== 201) throw new Error(`register failed: ${response.statusCode} ${response.body}`);
  return json<{ user_id: string }>(response).user_id;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

export async function login(
  app: FastifyInstance,
  credentials: Credentials,
  headers: Record<string, string> = {},
): Promise<Tokens> {
  const response = await app.inject({
    method: 'POST',
    url: '/auth/login',
    headers,
    payload: { username: credentials.username, password: credentials.password },
  });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  return json<{ tokens: Tokens }>(response).tokens;
}

/** Registers a new user and logs in once. */
export async function signUp(app: FastifyInstance, prefix = 'user') {
  const credentials = newCredentials(prefix);
  const userId = await register(app, credentials);
  const tokens = await login(app, credentials);
  return { credentials, userId, tokens };
}

/** Registers a user with the admin role straight through the store-backed core (as the CLI does). */
export async function signUpAdmin(t: TestApp) {
  const credentials = newCredentials('admin');
  const userId = await register(t.app, credentials);
  await t.stores.users.update(userId, { roles: ['admin'] }, t.clock.now());
  const tokens = await login(t.app, credentials);
  return { credentials, userId, tokens };
}

export async function whoami(app: FastifyInstance, token: string) {
  return app.inject({ method: 'GET', url: '/auth/whoami', headers: bearer(token) });
}

export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header = '', payload = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>,
  };
}

/** The id of the session a pair of tokens belongs to (its access token's `sid`). */
export const sessionIdOf = (tokens: { access_token: string }): string =>
  String(decodeJwt(tokens.access_token).payload.sid);

/**
 * Everything an attacker could hope to change, as one comparable value: every user with its
 * hash, roles, flags and proven address, every live session with its refresh state, every live
 * revocation, every second factor, passkey (with its counter) and recovery-code count, and how
 * much mail and how many jobs were ever queued.
 * Rate-limit counters are left out: counting an attack is the defence, not a change.
 */
export async function snapshot(stores: Stores, now: number): Promise<string> {
  const { users } = await stores.users.list(0, 10_000);
  const sessions = await Promise.all(users.map((u) => stores.sessions.listLive(u.id, now)));
  const revoked = await stores.durableRevocations.listLive(0, '', 1_000_000);
  // Every entry ever queued (a delivery moves one between states, never adds or removes one).
  const counts = await stores.outbox.counts();
  const queued = counts.pending + counts.done + counts.failed;
  const mfa = await Promise.all(
    users.map(async (u) => ({
      factors: await stores.mfa.listFactors(u.id),
      codes: await stores.mfa.recoveryCodesLeft(u.id),
      passkeys: await stores.passkeys.listForUser(u.id),
    })),
  );
  return JSON.stringify({ users, sessions, revoked, queued, mfa });
}

/**
 * Runs one statement on a Tessera database through a connection of its own, as another program
 * would (`?` placeholders on both engines); returns the rows a query reads.
 */
export async function sqlOutsideTessera<R = Record<string, unknown>>(
  databaseUrl: string,
  statement: string,
  parameters: unknown[] = [],
): Promise<R[]> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new SqliteDatabase(databaseUrl.slice('sqlite:'.length));
    try {
      const prepared = db.prepare(statement);
      if (prepared.reader) return prepared.all(...parameters) as R[];
      prepared.run(...parameters);
      return [];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    let index = 0;
    return (
      await client.query(
        statement.replace(/\?/g, () => `$${++index}`),
        parameters,
      )
    ).rows as R[];
  } finally {
    await client.end();
  }
}

export const settle = (ms = 300) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (in real time) until `check` holds, as the outbox worker polls every second. */
export async function eventually(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await settle(100);
  }
}

/**
 * Waits until each of `count` queued entries has had its first try recorded, before a test moves
 * the clock. A claim counts the attempt, but the retry's time is written after the send fails:
 * written after the clock moved, it would be a backoff past the moved clock, and never come.
 */
export async function firstTriesRecorded(databaseUrl: string, count: number, topic?: string): Promise<void> {
  await eventually(async () => {
    const rows = await sqlOutsideTessera<{ attempts: unknown; claimed_until: unknown }>(
      databaseUrl,
      `select attempts, claimed_until from outbox${topic ? ' where topic = ?' : ''}`,
      topic ? [topic] : [],
    );
    return rows.length === count && rows.every((row) => Number(row.attempts) >= 1 && row.claimed_until === null);
  }, 'the first tries to be recorded');
}

/** A loopback port nothing listens on right now (for servers a test must name before starting). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
