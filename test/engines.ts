/**
 * Which stores the behaviour suite runs against. SQLite always; PostgreSQL when it answers.
 * CI sets TESSERA_REQUIRE_SERVICES=1 so that an unreachable server fails the run instead of
 * being skipped; on a laptop without one, the suite says what it skipped and how to run it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type Engine = 'sqlite' | 'postgres';

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

const postgresAvailable = await postgresAnswers();
if (!postgresAvailable) {
  if (REQUIRED) throw new Error(`PostgreSQL does not answer at ${POSTGRES_ADMIN_URL}, and TESSERA_REQUIRE_SERVICES=1.`);
  console.warn(
    `# PostgreSQL not reachable at ${POSTGRES_ADMIN_URL}: running the SQLite suite only. ` +
      'Start PostgreSQL (or set TEST_POSTGRES_URL) to run it on PostgreSQL too.',
  );
}

export const ENGINES: readonly Engine[] = (['sqlite', 'postgres'] as const).filter(
  (engine) => engine === 'sqlite' || postgresAvailable,
).filter((engine) => !process.env.TEST_ENGINES || process.env.TEST_ENGINES.split(',').includes(engine));

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
