/**
 * npm run bench:scale: does a request cost more when the database is large? Two PostgreSQL
 * databases, one with 10,000 sessions (1,000 users) and one with BENCH_SCALE sessions (a tenth
 * as many users), loaded by COPY; a Tessera on each, measured side by side, rounds alternating:
 * whoami on a cache miss (ACCESS_CACHE_SIZE=0, a different session's token every request),
 * login (a different user every request) and refresh (chains from different sessions). Also
 * the pages PostgreSQL visits for a miss and how many it fetched from outside its shared buffers,
 * the bytes per user and per session on disk on both engines, and the resident memory of an
 * instance over the large database with its access cache full.
 *   BENCH_SCALE=10m npm run bench:scale      (10k, 100k, 1m or 10m; 1m by default)
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import argon2 from 'argon2';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { postgresEngine } from '../src/store/postgres.js';
import { purgeAfter } from '../src/store/sql/purge-after.js';
import {
  alternate,
  createDatabase,
  load,
  loadDuring,
  type Measured,
  median,
  peakRss,
  ROOT,
  type Server,
  tessera,
} from './harness.js';
import { type BenchSession, sessionTokens } from './session-tokens.js';
import { writeSqliteSessions } from './sqlite-sessions.js';

const SCALES: Record<string, number> = { '10k': 10_000, '100k': 100_000, '1m': 1_000_000, '10m': 10_000_000 };
const SCALE_NAME = process.env.BENCH_SCALE ?? '1m';
const SCALE: number =
  SCALES[SCALE_NAME] ??
  (() => {
    throw new Error(`BENCH_SCALE must be one of ${Object.keys(SCALES).join(', ')}`);
  })();
const SMALL = 10_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const PASSWORD = 'bench horse battery staple';
const SECRET = randomBytes(32).toString('hex');
/** Sessions whose tokens the load uses: more than the access cache holds (10,000 by default). */
const SAMPLED_SESSIONS = 12_000;
/** The columns every generated session is loaded with, by COPY. */
const SESSION_COLUMNS = [
  'id',
  'user_id',
  'refresh_jti',
  'refresh_issued_at',
  'created_at',
  'last_used_at',
  'expires_at',
  'purge_after',
  'user_agent',
  'ip',
  'aal',
  'amr',
];
const SAMPLED_USERS = 2_000;
const NOW = Math.floor(Date.now() / 1000);

interface Loaded {
  url: string;
  sessions: BenchSession[];
  usernames: string[];
  seconds: number;
  bytes: { users: number; sessions: number };
}

/** Streams rows into `COPY table FROM STDIN` through psql, minding back-pressure. */
async function copy(url: string, table: string, columns: string[], rows: Iterable<string[]>): Promise<void> {
  const psql = spawn(
    'psql',
    [url, '-q', '-v', 'ON_ERROR_STOP=1', '-c', `copy ${table} (${columns.join(', ')}) from stdin`],
    {
      stdio: ['pipe', 'inherit', 'inherit'],
    },
  );
  const done = new Promise<void>((resolve, reject) =>
    psql.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql copy ${table} exited ${code}`)))),
  );
  let chunk = '';
  for (const row of rows) {
    chunk += `${row.join('\t')}\n`;
    if (chunk.length > 1 << 20) {
      if (!psql.stdin.write(chunk)) await new Promise((resolve) => psql.stdin.once('drain', resolve));
      chunk = '';
    }
  }
  psql.stdin.end(chunk);
  await done;
}

/** A migrated database with `sessions` sessions of `sessions / 10` users, all with the bench password. */
async function populate(sessions: number, passwordHash: string): Promise<Loaded> {
  const url = await createDatabase();
  execFileSync(process.execPath, [join(ROOT, 'dist', 'main.js'), 'migrate'], {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: url, SECRET_KEY: SECRET },
  });
  const users = Math.max(1, Math.floor(sessions / 10));
  const userIds: string[] = Array.from({ length: users }, () => randomUUID());
  const usernames: string[] = [];
  const sampled: BenchSession[] = [];
  const started = process.hrtime.bigint();
  const userEvery = Math.max(1, Math.floor(users / SAMPLED_USERS));
  await copy(
    url,
    'users',
    [
      'id',
      'username',
      'username_key',
      'email',
      'email_key',
      'password_hash',
      'roles',
      'disabled',
      'created_at',
      'updated_at',
      'email_verified_at',
    ],
    (function* () {
      for (let i = 0; i < users; i++) {
        const name = `user${i}`;
        if (i % userEvery === 0) usernames.push(name);
        const at = String((NOW - 86400) * 1000);
        yield [
          userIds[i] ?? '',
          name,
          name,
          `${name}@example.com`,
          `${name}@example.com`,
          passwordHash,
          '[]',
          '0',
          at,
          at,
          at,
        ];
      }
    })(),
  );
  const sessionEvery = Math.max(1, Math.floor(sessions / SAMPLED_SESSIONS));
  const expiresAt = (NOW + 30 * 86400) * 1000;
  await copy(
    url,
    'sessions',
    SESSION_COLUMNS,
    (function* () {
      for (let i = 0; i < sessions; i++) {
        const id = randomUUID();
        const userId = userIds[i % users] ?? '';
        const refreshJti = randomUUID();
        if (i % sessionEvery === 0) sampled.push({ id, userId, refreshJti, expiresAt });
        const at = String((NOW - 3600) * 1000);
        yield [
          id,
          userId,
          refreshJti,
          String(NOW - 3600),
          at,
          at,
          String(expiresAt),
          String(purgeAfter(expiresAt)),
          'bench/1.0',
          '127.0.0.1',
          '1',
          '["pwd"]',
        ];
      }
    })(),
  );
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('vacuum analyze users');
  await client.query('vacuum analyze sessions');
  const size = await client.query<{ users: string; sessions: string }>(
    `select pg_total_relation_size('users') as users, pg_total_relation_size('sessions') as sessions`,
  );
  await client.end();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const row = size.rows[0];
  return {
    url,
    sessions: shuffle(sampled),
    usernames: shuffle(usernames),
    seconds,
    bytes: { users: Number(row?.users) / users, sessions: Number(row?.sessions) / sessions },
  };
}

/** Bytes per user and per session in a SQLite file (tables with their indexes, by dbstat). */
function sqliteBytes(sessions: number, passwordHash: string): { users: number; sessions: number } {
  const { file, users } = writeSqliteSessions({
    secret: SECRET,
    sessions,
    passwordHash,
    at: (NOW - 3600) * 1000,
    expiresAt: () => (NOW + 30 * 86400) * 1000,
  });
  const db = new SqliteDatabase(file, { readonly: true });
  const rows = db
    .prepare(
      `select m.tbl_name as owner, sum(s.pgsize) as bytes from dbstat s join sqlite_master m on m.name = s.name
       where m.tbl_name in ('users', 'sessions') group by m.tbl_name`,
    )
    .all() as { owner: string; bytes: number }[];
  db.close();
  const of = (table: string) => rows.find((r) => r.owner === table)?.bytes ?? 0;
  return { users: of('users') / users, sessions: of('sessions') / sessions };
}

/** Some user ids of a loaded database, to own the expired sessions. */
async function firstUsers(url: string, count: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ id: string }>('select id from users limit $1', [count]);
  await client.end();
  return rows.map((r) => r.id);
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

const tokens = sessionTokens(SECRET);

interface Row {
  scenario: string;
  large: number;
  small: number;
  ratio: number;
  range: [number, number];
  /** CPU per request at 10k over at the large size (PostgreSQL's counted): the steady figure, judged. */
  cpuRatio: number;
  cpuRange: [number, number];
  cpuLarge?: number;
  cpuSmall?: number;
  /** Of cpuLarge and cpuSmall, PostgreSQL's part: the part that can grow with the data. */
  postgresLarge?: number;
  postgresSmall?: number;
  p99Large: number;
  p99Small: number;
}

/** Alternates the large and the small database; the ratio (large / small) is the median of the rounds'. */
async function side(
  scenario: string,
  run: (server: Server, db: Loaded, round: number) => Promise<Measured>,
  a: [Server, Loaded],
  b: [Server, Loaded],
): Promise<Row> {
  const {
    a: large,
    b: small,
    ratios,
  } = await alternate(
    ROUNDS,
    (round) => run(a[0], a[1], round),
    (round) => run(b[0], b[1], round),
  );
  const cpuRatios = large.map((m, i) => (small[i]?.cpuUs ?? Number.NaN) / (m.cpuUs ?? Number.NaN));
  const row: Row = {
    scenario,
    cpuRatio: median(cpuRatios),
    cpuRange: [Math.min(...cpuRatios), Math.max(...cpuRatios)],
    large: median(large.map((m) => m.rps)),
    small: median(small.map((m) => m.rps)),
    ratio: median(ratios),
    range: [Math.min(...ratios), Math.max(...ratios)],
    cpuLarge: median(large.map((m) => m.cpuUs ?? 0)),
    cpuSmall: median(small.map((m) => m.cpuUs ?? 0)),
    postgresLarge: median(large.map((m) => m.servicesCpuUs ?? 0)),
    postgresSmall: median(small.map((m) => m.servicesCpuUs ?? 0)),
    p99Large: median(large.map((m) => m.p99)),
    p99Small: median(small.map((m) => m.p99)),
  };
  for (const m of [...large, ...small]) {
    if (m.errors + m.non2xx > 0) console.error(`  ${scenario}: ${m.errors} errors, ${m.non2xx} non-2xx in a round`);
  }
  console.error(
    `  ${scenario}: ${row.large.toFixed(0)} req/s at ${SCALE_NAME} vs ${row.small.toFixed(0)} at 10k → ${row.ratio.toFixed(2)} (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}); CPU/request ${row.cpuLarge?.toFixed(1)} vs ${row.cpuSmall?.toFixed(1)} µs (of which PostgreSQL ${row.postgresLarge?.toFixed(1)} vs ${row.postgresSmall?.toFixed(1)}) → ${row.cpuRatio.toFixed(2)} (rounds ${cpuRatios.map((r) => r.toFixed(2)).join(', ')})`,
  );
  return row;
}

/**
 * PostgreSQL's backends publish their block counters at most once a second, and an idle one
 * within ten: wait this long on either side of a measured load for its counts to be complete.
 */
const STATS_SETTLE_MS = 11_000;

interface BufferTraffic {
  /** Pages a request read from outside PostgreSQL's shared buffers (the OS's cache or the disk). */
  reads: number;
  /** Pages a request found in the shared buffers. */
  hits: number;
  /** The shared buffers, in MB. */
  sharedBuffersMb: number;
  /**
   * PostgreSQL's `huge_pages` setting. On this project's virtual machine, lookups over a large
   * database cost PostgreSQL twice as much on 4 kB pages as on 2 MB ones (docs/BENCHMARKS.md).
   */
  hugePages: string;
}

/** PostgreSQL's page reads and buffer hits a request in `url`'s database over one `run`. */
async function bufferTraffic(url: string, run: () => Promise<Measured>): Promise<BufferTraffic> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const counters = async () => {
    const { rows } = await client.query<{ reads: string; hits: string; buffers: string; huge: string }>(
      `select blks_read as reads, blks_hit as hits,
              (select setting::bigint * 8 / 1024 from pg_settings where name = 'shared_buffers') as buffers,
              (select setting from pg_settings where name = 'huge_pages') as huge
       from pg_stat_database where datname = current_database()`,
    );
    return {
      reads: Number(rows[0]?.reads),
      hits: Number(rows[0]?.hits),
      buffers: Number(rows[0]?.buffers),
      huge: rows[0]?.huge ?? 'unknown',
    };
  };
  try {
    await sleep(STATS_SETTLE_MS);
    const before = await counters();
    const measured = await run();
    await sleep(STATS_SETTLE_MS);
    const after = await counters();
    const requests = measured.rps * SECONDS;
    return {
      reads: (after.reads - before.reads) / requests,
      hits: (after.hits - before.hits) / requests,
      sharedBuffersMb: after.buffers,
      hugePages: after.huge,
    };
  } finally {
    await client.end();
  }
}

async function main() {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const passwordHash = await argon2.hash(PASSWORD, {
    type: argon2.argon2id,
    memoryCost: 19456,
    timeCost: 2,
    parallelism: 1,
  });
  console.error(`Loading ${SCALE.toLocaleString('en')} sessions (${(SCALE / 10).toLocaleString('en')} users) by COPY…`);
  const large = await populate(SCALE, passwordHash);
  console.error(
    `  loaded in ${large.seconds.toFixed(1)} s (${(SCALE / large.seconds).toFixed(0)} sessions/s, with vacuum analyze)`,
  );
  const small = await populate(SMALL, passwordHash);
  const sqliteSessions = Math.min(SCALE, 1_000_000);
  const sqlite = sqliteBytes(sqliteSessions, passwordHash);

  const env = (url: string) => ({ DATABASE_URL: url, SECRET_KEY: SECRET, ACCESS_CACHE_SIZE: '0' });
  const servers: [[Server, Loaded], [Server, Loaded]] = [
    [await tessera(env(large.url)), large],
    [await tessera(env(small.url)), small],
  ];
  const options = { seconds: SECONDS, connections: CONNECTIONS };
  const rows: Row[] = [];
  const missEveryTime = (server: Server, db: Loaded) =>
    load(
      {
        ...options,
        url: `${server.url}/auth/whoami`,
        mode: 'get',
        tokens: db.sessions.slice(0, 5000).map(tokens.access),
      },
      server,
      true,
    );
  rows.push(await side('whoami, cache miss', missEveryTime, ...servers));
  // What a miss costs PostgreSQL in pages, one more round on each: how many it visits (as many on
  // both since the hash indexes of migration 012; more on the large one through B-trees) and how
  // many it fetched from outside its shared buffers. Neither counts the memory latency of
  // visiting pages spread over a large pool, which on 4 kB pages doubled PostgreSQL's part here
  // (docs/BENCHMARKS.md, session 19).
  const [largeBuffers, smallBuffers] = [
    await bufferTraffic(large.url, () => missEveryTime(...servers[0])),
    await bufferTraffic(small.url, () => missEveryTime(...servers[1])),
  ];
  const pagesOfAMiss = `PostgreSQL's pages a whoami on a cache miss read from outside its ${largeBuffers.sharedBuffersMb} MB of shared buffers (huge_pages ${largeBuffers.hugePages}): ${largeBuffers.reads.toFixed(2)} at ${SCALE_NAME} (${largeBuffers.hits.toFixed(1)} found in them), ${smallBuffers.reads.toFixed(2)} at 10k (${smallBuffers.hits.toFixed(1)}).`;
  console.error(`  ${pagesOfAMiss}`);
  rows.push(
    await side(
      'login',
      (server, db) =>
        load(
          {
            ...options,
            connections: 16,
            url: `${server.url}/auth/login`,
            mode: 'login',
            logins: db.usernames.map((username) => ({ username, password: PASSWORD })),
          },
          server,
          true,
        ),
      ...servers,
    ),
  );
  rows.push(
    await side(
      'refresh',
      (server, db, round) =>
        load(
          {
            ...options,
            url: `${server.url}/auth/refresh`,
            mode: 'refresh',
            // Each round its own sessions: a presented refresh token is spent.
            tokens: db.sessions.slice(5000 + round * CONNECTIONS, 5000 + (round + 1) * CONNECTIONS).map(tokens.refresh),
          },
          server,
          true,
        ),
      ...servers,
    ),
  );

  // Resident memory over the large database with the access cache full (its default 10,000).
  const cached = await tessera({ DATABASE_URL: large.url, SECRET_KEY: SECRET });
  const many = large.sessions.slice(0, SAMPLED_SESSIONS - 1000).map(tokens.access);
  const [, rss] = await peakRss(
    cached.child.pid ?? 0,
    (async () => {
      for (let round = 0; round < 2; round++) {
        await load({ ...options, url: `${cached.url}/auth/whoami`, mode: 'get', tokens: many }, cached);
      }
    })(),
  );
  console.error(`  resident memory, ${SCALE_NAME} sessions, access cache full: ${rss.toFixed(0)} MB`);

  // Purging: a million expired sessions (at most BENCH_SCALE) added to the large database and
  // purged by `tessera purge` while whoami runs against an instance on it.
  const expired = Math.min(SCALE, 1_000_000);
  const expiredAt = (NOW - 86400) * 1000;
  const users = await firstUsers(large.url, 1000);
  await copy(
    large.url,
    'sessions',
    SESSION_COLUMNS,
    (function* () {
      for (let i = 0; i < expired; i++) {
        const at = String(expiredAt - 30 * 86400_000);
        yield [
          randomUUID(),
          users[i % users.length] ?? '',
          randomUUID(),
          '0',
          at,
          at,
          String(expiredAt),
          String(purgeAfter(expiredAt)),
          'bench/1.0',
          '127.0.0.1',
          '1',
          '["pwd"]',
        ];
      }
    })(),
  );
  const watched = await tessera({ DATABASE_URL: large.url, SECRET_KEY: SECRET, PURGE_INTERVAL: '1d' });
  const token = tokens.access(large.sessions[0] as BenchSession);
  const whoami = { ...options, url: `${watched.url}/auth/whoami`, mode: 'get', token } as const;
  const quiet = await load(whoami, watched);
  const [during, purgeOutput] = await loadDuring(whoami, () => {
    const started = process.hrtime.bigint();
    return new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'main.js'), 'purge'], {
        env: { PATH: process.env.PATH ?? '', DATABASE_URL: large.url, SECRET_KEY: SECRET },
      });
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`purge exited ${code}`))));
    }).then((out) => ({ out, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
  });
  console.error(
    `  purge of ${expired.toLocaleString('en')} expired sessions: ${purgeOutput.seconds.toFixed(1)} s; whoami p99 ${during.p99} ms during it (${quiet.p99} ms before), ${during.rps.toFixed(0)} req/s (${quiet.rps.toFixed(0)} before)`,
  );
  console.error(`  ${purgeOutput.out}`);

  const table = [
    `| scenario (PostgreSQL, ${ROUNDS} rounds × ${SECONDS} s) | req/s at ${SCALE_NAME} | req/s at 10k | ratio | per-round range | CPU µs/req (${SCALE_NAME} / 10k), PostgreSQL's counted (its part) | CPU ratio (judged) | per-round range | p99 ms (${SCALE_NAME} / 10k) | target | met |`,
    '|---|---:|---:|---:|---|---|---:|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.large.toFixed(0)} | ${r.small.toFixed(0)} | ${r.ratio.toFixed(2)} | ${r.range.map((x) => x.toFixed(2)).join('–')} | ${r.cpuLarge?.toFixed(1)} / ${r.cpuSmall?.toFixed(1)} (${r.postgresLarge?.toFixed(1)} / ${r.postgresSmall?.toFixed(1)}) | ${r.cpuRatio.toFixed(2)} | ${r.cpuRange.map((x) => x.toFixed(2)).join('–')} | ${r.p99Large} / ${r.p99Small} | ≥ 0.80 (within 1.25×) | ${r.cpuRatio >= 0.8 ? 'yes' : 'no'} |`,
    ),
    '',
    '| on disk (tables with their indexes) | PostgreSQL | SQLite |',
    '|---|---:|---:|',
    `| bytes per user | ${large.bytes.users.toFixed(0)} | ${sqlite.users.toFixed(0)} |`,
    `| bytes per session | ${large.bytes.sessions.toFixed(0)} | ${sqlite.sessions.toFixed(0)} |`,
    '',
    `Purge: ${expired.toLocaleString('en')} expired sessions in ${purgeOutput.seconds.toFixed(1)} s (batches of ${postgresEngine.purgeBatch.toLocaleString('en')}), whoami p99 ${during.p99} ms during it (target ≤ 10 ms; ${quiet.p99} ms before), ${during.rps.toFixed(0)} req/s (${quiet.rps.toFixed(0)} before).`,
    '',
    pagesOfAMiss,
    '',
    `Load: ${SCALE.toLocaleString('en')} sessions and ${(SCALE / 10).toLocaleString('en')} users by COPY in ${large.seconds.toFixed(1)} s (with vacuum analyze). SQLite sizes from ${sqliteSessions.toLocaleString('en')} sessions. Resident memory with the access cache full: ${rss.toFixed(0)} MB (target ≤ 150 MB).`,
  ].join('\n');
  console.log(table);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench', 'results', `scale-${SCALE_NAME}.json`),
    `${JSON.stringify({ date: new Date().toISOString(), scale: SCALE, rounds: ROUNDS, seconds: SECONDS, loadSeconds: large.seconds, bytes: { postgres: large.bytes, sqlite }, rssMb: rss, buffers: { large: largeBuffers, small: smallBuffers }, purge: { sessions: expired, seconds: purgeOutput.seconds, whoamiP99: during.p99, whoamiP99Before: quiet.p99 }, rows }, null, 2)}\n`,
  );
  process.exit(0);
}

await main();
