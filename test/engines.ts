/**
 * Which stores the behaviour suite runs against: SQLite always; PostgreSQL, and PostgreSQL with
 * the Redis fast path, when those servers answer. CI sets TESSERA_REQUIRE_SERVICES=1 so that an
 * unreachable server fails the run instead of being skipped; on a laptop without them, the suite
 * says what it skipped and how to run it.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

export type Engine = 'sqlite' | 'postgres' | 'postgres+redis';

export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_TEST_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REQUIRED = process.env.TESSERA_REQUIRE_SERVICES === '1';

async function postgresAnswers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function redisAnswers(): Promise<boolean> {
  const client = new Redis(REDIS_TEST_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export const POSTGRES_AVAILABLE = await postgresAnswers();
export const REDIS_AVAILABLE = await redisAnswers();
for (const [name, available, url, variable] of [
  ['PostgreSQL', POSTGRES_AVAILABLE, POSTGRES_ADMIN_URL, 'TEST_POSTGRES_URL'],
  ['Redis', REDIS_AVAILABLE, REDIS_TEST_URL, 'TEST_REDIS_URL'],
] as const) {
  if (available) continue;
  if (REQUIRED) throw new Error(`${name} does not answer at ${url}, and TESSERA_REQUIRE_SERVICES=1.`);
  console.warn(
    `# SKIPPED: ${name} is not reachable at ${url}; the tests that need it do not run. Start it (or set ${variable}) to run them.`,
  );
}

const wanted = process.env.TEST_ENGINES?.split(',');
export const ENGINES: readonly Engine[] = (['sqlite', 'postgres', 'postgres+redis'] as const).filter(
  (engine) =>
    (!wanted || wanted.includes(engine)) &&
    (engine === 'sqlite' || (POSTGRES_AVAILABLE && (engine === 'postgres' || REDIS_AVAILABLE))),
);
/** The engines that run on PostgreSQL, for tests about shared, multi-instance behaviour. */
export const SHARED_ENGINES = ENGINES.filter((engine) => engine !== 'sqlite');

/** A fresh database on the test server, dropped by the returned `drop`. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tessera_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A key prefix of its own for one test, and a way to delete everything under it. */
export function createRedisPrefix(): { prefix: string; drop: () => Promise<void> } {
  const prefix = `tessera-test:${randomBytes(6).toString('hex')}:`;
  return {
    prefix,
    drop: async () => {
      const client = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 0 });
      try {
        const keys = await client.keys(`${prefix}*`);
        if (keys.length > 0) await client.del(...keys);
      } finally {
        client.disconnect();
      }
    },
  };
}
