/**
 * npm run bench: Tessera against bare Fastify (and login against raw argon2id), measured side by
 * side in one run. Each server is its own process, load comes from another, rounds alternate
 * A B A B, and every figure reported is the median over the rounds. Loopback only, bounded in time.
 * Writes bench/results/latest.json and docs/benchmark-chart.svg, and prints a Markdown table.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Redis } from 'ioredis';
import { type ChartRow, chart } from './chart.js';
import {
  alternate,
  analyze,
  createDatabase,
  load,
  type Measured,
  median,
  peakRss,
  ROOT,
  type Server,
  start,
  TSX,
  tempDir,
  tessera,
} from './harness.js';
import type { LoadResult } from './load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
/** A comma-separated subset of the scenario keys below (bare-at-once, whoami-sqlite, whoami-after-logins, whoami-cache-off, whoami-pg, refresh, refresh-pg, login, login-audit, register, mixed, revoked); all by default. */
const ONLY = process.env.BENCH_ONLY?.split(',');
const wanted = (key: string) => !ONLY || ONLY.includes(key);
const REDIS = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSWORD = 'bench horse battery staple';
const REDIS_PREFIX = `tessera-bench:${randomBytes(4).toString('hex')}:`;

async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await response.json()) as Record<string, unknown>;
}

async function signIn(base: string, name = `bench${randomBytes(4).toString('hex')}`) {
  const credentials = { username: name, email: `${name}@example.com`, password: PASSWORD };
  await post(`${base}/auth/register`, credentials);
  const tokens = (await post(`${base}/auth/login`, credentials)).tokens as {
    access_token: string;
    refresh_token: string;
  };
  return { credentials, tokens };
}

interface Row extends ChartRow {
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  baseline: string;
  baselineRps: number;
  /** Throughput against the baseline's (median of the rounds). */
  ratio: number;
  /** The lowest and highest per-round ratio: how noisy the machine was. */
  range?: [number, number];
  /** Server CPU per request (medians), Tessera's (with PostgreSQL's and Redis' where it uses them) and the baseline's. */
  cpuUs?: number;
  servicesCpuUs?: number;
  baselineCpuUs?: number;
  /** The baseline's CPU per request over Tessera's (median of the rounds): the steady figure, judged against the target. */
  cpuRatio?: number;
  /** The lowest and highest per-round CPU ratio. */
  cpuRange?: [number, number];
  target?: string;
  met?: boolean;
  note?: string;
}
const rows: Row[] = [];

/** Alternates A and B for ROUNDS rounds; the ratio is the median of the per-round ratios. */
async function versus(
  scenario: string,
  a: () => Promise<Measured>,
  baseline: string,
  b: () => Promise<{ rps: number; cpuUs?: number }>,
  target?: number,
) {
  const { a: as, b: baselines, ratios } = await alternate(ROUNDS, a, b);
  as.forEach((resultA, round) => {
    if (resultA.errors + resultA.non2xx > 0)
      console.error(`  ${scenario}: ${resultA.errors} errors, ${resultA.non2xx} non-2xx in round ${round + 1}`);
  });
  const bs = baselines.map((r) => r.rps);
  const bsCpu = baselines.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
  const ratio = median(ratios);
  const cpuRatios =
    as.every((r) => r.cpuUs !== undefined) && bsCpu.length === ROUNDS
      ? as.map((r, round) => (bsCpu[round] ?? Number.NaN) / (r.cpuUs ?? Number.NaN))
      : undefined;
  const cpuRatio = cpuRatios && median(cpuRatios);
  // CPU per request is the steady figure where both sides have it; throughput where not.
  const judged = cpuRatio ?? ratio;
  const row: Row = {
    scenario,
    rps: median(as.map((r) => r.rps)),
    p50: median(as.map((r) => r.p50)),
    p99: median(as.map((r) => r.p99)),
    baseline,
    baselineRps: median(bs),
    ratio,
    range: [Math.min(...ratios), Math.max(...ratios)],
    ...(as.every((r) => r.cpuUs !== undefined) && { cpuUs: median(as.map((r) => r.cpuUs ?? 0)) }),
    ...(as.every((r) => r.servicesCpuUs !== undefined) && {
      servicesCpuUs: median(as.map((r) => r.servicesCpuUs ?? 0)),
    }),
    ...(bsCpu.length === ROUNDS && { baselineCpuUs: median(bsCpu) }),
    ...(cpuRatios !== undefined && {
      cpuRatio,
      cpuRange: [Math.min(...cpuRatios), Math.max(...cpuRatios)] as [number, number],
    }),
    ...(target !== undefined && { target: `≥ ${target.toFixed(2)}`, met: judged >= target }),
  };
  rows.push(row);
  const services =
    row.servicesCpuUs === undefined ? '' : ` (of which PostgreSQL + Redis ${row.servicesCpuUs.toFixed(1)})`;
  const cpu =
    row.cpuUs === undefined
      ? ''
      : `; CPU/request ${row.cpuUs.toFixed(1)} µs${services}${row.baselineCpuUs === undefined ? '' : ` vs ${row.baselineCpuUs.toFixed(1)} µs → ${cpuRatio?.toFixed(3)} (rounds ${cpuRatios?.map((r) => r.toFixed(2)).join(', ')})`}`;
  console.error(
    `  ${scenario}: ${row.rps.toFixed(0)} req/s vs ${row.baselineRps.toFixed(0)} (${baseline}) → ${ratio.toFixed(3)} (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')})${cpu}`,
  );
  return row;
}

/** A SQLite store with `count` revoked entries, written straight into a migrated file. */
async function storeWithRevocations(count: number): Promise<string> {
  const dir = tempDir('revoked-');
  execFileSync(process.execPath, [join(ROOT, 'dist', 'main.js'), 'migrate'], {
    env: { PATH: process.env.PATH ?? '', DATA_DIR: dir, SECRET_KEY: 'x'.repeat(40) },
  });
  const db = new SqliteDatabase(join(dir, 'tessera.sqlite3'));
  const insert = db.prepare('insert into revoked_tokens (jti, expires_at) values (?, ?)');
  const far = Date.now() + 86400_000;
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(randomUUID(), far);
  })();
  db.close();
  return dir;
}

async function main() {
  console.error(
    `Machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
  );
  console.error(`Rounds: one unmeasured, then ${ROUNDS} × ${SECONDS} s each side, ${CONNECTIONS} connections`);
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });

  const startBare = (env: Record<string, string> = {}) => start(['--import', TSX, join(ROOT, 'bench', 'bare.ts')], env);
  const bare = await startBare();
  const whoami = (server: Server, token: string, services = false) =>
    load(
      { url: `${server.url}/auth/whoami`, seconds: SECONDS, connections: CONNECTIONS, mode: 'get', token },
      server,
      services,
    );

  // whoami on SQLite, with the resident memory measured under that load
  const sqlite = await tessera({});
  const sqliteUser = await signIn(sqlite.url);
  const whoamiSqlite = () => whoami(sqlite, sqliteUser.tokens.access_token);
  // The baseline gets the same request, token and all (it reads the header and ignores it):
  // reading a 400-byte header is HTTP's cost, not authentication's (about 1 µs here).
  const bareWhoami = () => whoami(bare, sqliteUser.tokens.access_token);

  // The baseline answers per event-loop turn, as Tessera does (bench/bare.ts says why); this row
  // shows what answering each request at once costs bare Fastify on the machine at hand.
  if (wanted('bare-at-once')) {
    const atOnce = await startBare({ BARE_AT_ONCE: '1' });
    await versus(
      'bare Fastify answering each request at once',
      () => whoami(atOnce, sqliteUser.tokens.access_token),
      'bare Fastify',
      bareWhoami,
    );
    atOnce.child.kill();
  }

  let rss = 0;
  if (wanted('whoami-sqlite')) {
    await versus(
      'whoami, SQLite',
      async () => {
        const [result, peak] = await peakRss(sqlite.child.pid ?? 0, whoamiSqlite());
        rss = Math.max(rss, peak);
        return result;
      },
      'bare Fastify',
      bareWhoami,
      0.8,
    );
  }

  // the same on a server that has just answered a burst of logins, as a live one has: each login
  // holds its request while it hashes, and V8 once took such survivors as a sign to allocate every
  // request's objects in the old generation (README "Memory": --no-allocation-site-pretenuring)
  if (wanted('whoami-after-logins')) {
    const busy = await tessera({});
    const [user] = await Promise.all(Array.from({ length: CONNECTIONS }, () => signIn(busy.url)));
    const token = user?.tokens.access_token ?? '';
    await versus('whoami after a burst of logins, SQLite', () => whoami(busy, token), 'bare Fastify', bareWhoami, 0.8);
  }

  // the same with the access cache off: every request verifies the signature and reads the store
  if (wanted('whoami-cache-off')) {
    const uncached = await tessera({ ACCESS_CACHE_SIZE: '0' });
    const user = await signIn(uncached.url);
    await versus(
      'whoami, SQLite, access cache off',
      () => whoami(uncached, user.tokens.access_token),
      'bare Fastify',
      bareWhoami,
    );
  }

  // whoami and refresh on PostgreSQL with Redis
  const sharedDatabase = wanted('whoami-pg') || wanted('refresh-pg') ? await createDatabase() : undefined;
  const shared = sharedDatabase
    ? await tessera({ DATABASE_URL: sharedDatabase, REDIS_URL: REDIS, REDIS_PREFIX: REDIS_PREFIX })
    : undefined;
  if (shared && wanted('whoami-pg')) {
    const sharedUser = await signIn(shared.url);
    await versus(
      'whoami, PostgreSQL + Redis',
      () => whoami(shared, sharedUser.tokens.access_token, true),
      'bare Fastify',
      bareWhoami,
      0.8,
    );
  }

  // refresh: each connection follows its own rotation chain, from sessions opened for the round
  // (a round consumes its tokens: presenting them again would rightly be refused as reuse)
  const refreshRound = async (server: Server, database?: string) => {
    const chains = await Promise.all(Array.from({ length: CONNECTIONS }, () => signIn(server.url)));
    // As autovacuum would have them within a minute in production. Never analyzed, PostgreSQL
    // takes a NULL test to keep 0.5% of rows, and the rotation's generic plan scans every
    // session for every row of a batch: 200-540 µs a refresh with 512 sessions (auto_explain).
    if (database) await analyze(database, ['sessions', 'users']);
    return load(
      {
        url: `${server.url}/auth/refresh`,
        seconds: SECONDS,
        connections: CONNECTIONS,
        mode: 'refresh',
        tokens: chains.map((c) => c.tokens.refresh_token),
      },
      server,
      database !== undefined,
    );
  };
  if (wanted('refresh')) await versus('refresh, SQLite', () => refreshRound(sqlite), 'bare Fastify', bareWhoami, 0.2);
  if (shared && wanted('refresh-pg')) {
    await versus(
      'refresh, PostgreSQL + Redis',
      () => refreshRound(shared, sharedDatabase),
      'bare Fastify',
      bareWhoami,
      0.2,
    );
  }

  // login against the raw argon2id ceiling at the same parameters and pool size
  const rawArgon2 = () =>
    new Promise<{ rps: number }>((resolve) => {
      const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'bench', 'argon2-raw.ts'), String(SECONDS)]);
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.on('exit', () => resolve({ rps: (JSON.parse(out) as { perSecond: number }).perSecond }));
    });
  const loginLoad = (seconds = SECONDS) =>
    load(
      { url: `${sqlite.url}/auth/login`, seconds, connections: 16, mode: 'login', credentials: sqliteUser.credentials },
      sqlite,
    );
  if (wanted('login')) await versus('login, SQLite', () => loginLoad(), 'raw argon2id verify', rawArgon2, 0.9);
  // The audit log's cost: logins (each one records an event in its session's transaction)
  // against the same server kind with AUDIT_LOG=false, side by side.
  if (wanted('login-audit')) {
    const unaudited = await tessera({ AUDIT_LOG: 'false' });
    const unauditedUser = await signIn(unaudited.url);
    await versus(
      'login with the audit log, SQLite',
      () => loginLoad(),
      'login, AUDIT_LOG=false',
      () =>
        load(
          {
            url: `${unaudited.url}/auth/login`,
            seconds: SECONDS,
            connections: 16,
            mode: 'login',
            credentials: unauditedUser.credentials,
          },
          unaudited,
        ),
      0.9,
    );
  }
  if (wanted('register')) {
    await versus(
      'register, SQLite',
      () => load({ url: `${sqlite.url}/auth/register`, seconds: SECONDS, connections: 16, mode: 'register' }, sqlite),
      'bare Fastify',
      bareWhoami,
    );
  }

  // whoami while logins saturate the hashing threads: the event loop must stay free
  if (wanted('mixed')) {
    const mixed: LoadResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const [, during] = await Promise.all([
        loginLoad(SECONDS + 1),
        new Promise((r) => setTimeout(r, 500)).then(whoamiSqlite),
      ]);
      mixed.push(during);
    }
    const mixedP99 = median(mixed.map((m) => m.p99));
    rows.push({
      scenario: 'whoami p99 during a login flood',
      rps: median(mixed.map((m) => m.rps)),
      p50: median(mixed.map((m) => m.p50)),
      p99: mixedP99,
      baseline: 'p99 target',
      baselineRps: 0,
      ratio: mixedP99,
      target: '≤ 10 ms',
      met: mixedP99 <= 10,
    });
    console.error(`  whoami during logins: p99 ${mixedP99} ms (rounds ${mixed.map((m) => m.p99).join(', ')})`);
  }

  // whoami with a million revoked entries against an empty store. The access cache is off on
  // both: with it on, neither side would read the revocation list at all after the first request.
  if (wanted('revoked')) {
    const crowded = await tessera({ DATA_DIR: await storeWithRevocations(1_000_000), ACCESS_CACHE_SIZE: '0' });
    const empty = await tessera({ DATA_DIR: await storeWithRevocations(0), ACCESS_CACHE_SIZE: '0' });
    const crowdedUser = await signIn(crowded.url);
    const emptyUser = await signIn(empty.url);
    await versus(
      'whoami, 1,000,000 revoked (cache off)',
      () => whoami(crowded, crowdedUser.tokens.access_token),
      'whoami, none revoked (cache off)',
      () => whoami(empty, emptyUser.tokens.access_token),
      0.9,
    );
  }

  const table = [
    // The target is judged on the CPU ratio where both sides have one, else on throughput's.
    '| scenario | req/s | p50 ms | p99 ms | server CPU µs/req | baseline | baseline req/s | baseline CPU µs/req | ratio by CPU (median) | its per-round range | ratio by throughput (range) | target | met |',
    '|---|---:|---:|---:|---:|---|---:|---:|---:|---|---|---|---|',
    ...rows.map((r) =>
      r.baseline === 'p99 target'
        ? `| ${r.scenario} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | | — | — | — | — | — | — | p99 ${r.target} | ${r.met ? 'yes' : 'no'} |`
        : `| ${r.scenario} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.cpuUs?.toFixed(1) ?? ''} | ${r.baseline} | ${r.baselineRps.toFixed(0)} | ${r.baselineCpuUs?.toFixed(1) ?? '—'} | ${r.cpuRatio?.toFixed(2) ?? '—'} | ${r.cpuRange?.map((x) => x.toFixed(2)).join('–') ?? '—'} | ${r.ratio.toFixed(2)} (${r.range?.map((x) => x.toFixed(2)).join('–') ?? ''}) | ${r.target ?? '—'} | ${r.met === undefined ? '—' : r.met ? 'yes' : 'no'} |`,
    ),
    ...(rss > 0
      ? [
          `| resident memory under whoami load | | | | | | | | ${rss.toFixed(0)} MB | | | ≤ 150 MB | ${rss <= 150 ? 'yes' : 'no'} |`,
        ]
      : []),
  ].join('\n');
  console.log(table);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench', 'results', 'latest.json'),
    `${JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, rssMb: rss, rows }, null, 2)}\n`,
  );
  writeFileSync(join(ROOT, 'docs', 'benchmark-chart.svg'), `${chart(rows, ROUNDS)}\n`);
  await dropRedisPrefix();
  process.exit(0);
}

/** The keys the PostgreSQL + Redis server wrote under this run's prefix. */
async function dropRedisPrefix(): Promise<void> {
  const redis = new Redis(REDIS, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    const keys = await redis.keys(`${REDIS_PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
  } catch {
    // best effort, like the database drop
  } finally {
    redis.disconnect();
  }
}

await main();
