import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import SqliteDatabase from 'better-sqlite3';
import { load, type Measured, median, tessera } from './harness.js';
import type { LoadOptions } from './load.js';
import { type BenchSession, sessionTokens } from './session-tokens.js';
import { writeSqliteSessions } from './sqlite-sessions.js';

const SESSIONS = Number(process.env.BENCH_SQLITE_SESSIONS ?? 2_000_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECRET = randomBytes(32).toString('hex');
const NOW = Date.now();
/** Live sessions whose tokens the load uses: fewer than the access cache holds (10,000). */
const SAMPLED = 5_000;

/** Refresh chains: one a connection, fresh for each round of each side (a rotated token is spent). */
const CHAINS = CONNECTIONS * (ROUNDS + 1) * 2;

interface Loaded {
  dir: string;
  file: string;
  live: BenchSession[];
  chains: BenchSession[];
  seconds: number;
}

/** SESSIONS sessions of SESSIONS / 10 users, every other one expired a day or more ago. */
function populate(): Loaded {
  const started = process.hrtime.bigint();
  const live: BenchSession[] = [];
  const chains: BenchSession[] = [];
  const liveEvery = Math.max(1, Math.floor(SESSIONS / 2 / SAMPLED));
  const expired = (i: number) => i % 2 === 0;
  const { dir, file } = writeSqliteSessions({
    secret: SECRET,
    sessions: SESSIONS,
    passwordHash: 'not a hash: nobody logs in here',
    at: NOW,
    // Expired over the last 20 days, as a backlog left by a server that was down would be.
    expiresAt: (i) => (expired(i) ? NOW - 86_400_000 * (1 + (i % 20)) : NOW + 30 * 86_400_000),
    written: (session, i) => {
      if (expired(i)) return;
      if (chains.length < CHAINS) chains.push(session);
      else if ((i >> 1) % liveEvery === 0 && live.length < SAMPLED) live.push(session);
    },
  });
  return { dir, file, live, chains, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

function sessionsLeft(file: string): number {
  const db = new SqliteDatabase(file, { readonly: true });
  try {
    return Number(db.prepare('select count(*) from sessions').pluck().get());
  } finally {
    db.close();
  }
}

const tokens = sessionTokens(SECRET);

interface Side {
  quiet: Measured[];
  during: Measured[];
  purgedPerSecond: number[];
}

/** One server's round: `work` for SECONDS, with the purge timer off or running. */
async function round(data: Loaded, work: Omit<LoadOptions, 'url' | 'seconds'>, cacheSize: string, purging: boolean) {
  const server = await tessera({
    DATA_DIR: data.dir,
    SECRET_KEY: SECRET,
    ACCESS_CACHE_SIZE: cacheSize,
    PURGE_INTERVAL: purging ? '1' : '3600',
  });
  try {
    // The first purge starts a second after the server does; give it time to be under way.
    if (purging) await sleep(1500);
    const before = sessionsLeft(data.file);
    const started = process.hrtime.bigint();
    const path = work.mode === 'refresh' ? '/auth/refresh' : '/auth/whoami';
    const measured = await load({ ...work, url: `${server.url}${path}`, seconds: SECONDS }, server);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const purged = before - sessionsLeft(data.file);
    if (measured.non2xx > 0 || measured.errors > 0) throw new Error(`${path} failed: ${JSON.stringify(measured)}`);
    return { measured, purgedPerSecond: purged / seconds };
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
  }
}

/** ROUNDS of each side, alternating; `work(r)` is round r's load (r = ROUNDS: the unmeasured first). */
async function scenario(name: string, work: (r: number) => Omit<LoadOptions, 'url' | 'seconds'>, cacheSize: string) {
  const side: Side = { quiet: [], during: [], purgedPerSecond: [] };
  // Each side's first round is not measured: it pays for V8 compiling the path and SQLite's cold pages.
  await round(data, work(2 * ROUNDS), cacheSize, false);
  await round(data, work(2 * ROUNDS + 1), cacheSize, true);
  for (let r = 0; r < ROUNDS; r++) {
    side.quiet.push((await round(data, work(2 * r), cacheSize, false)).measured);
    const during = await round(data, work(2 * r + 1), cacheSize, true);
    side.during.push(during.measured);
    side.purgedPerSecond.push(during.purgedPerSecond);
  }
  const rps = (ms: Measured[]) => median(ms.map((m) => m.rps));
  const p99 = (ms: Measured[]) => median(ms.map((m) => m.p99));
  const ratios = side.during.map((m, i) => m.rps / (side.quiet[i]?.rps ?? Number.NaN));
  console.log(
    `${name}: ${rps(side.during).toFixed(0)} a second during the purge against ${rps(side.quiet).toFixed(0)} before ` +
      `(${median(ratios).toFixed(2)}, rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}); ` +
      `p99 ${p99(side.during)} ms against ${p99(side.quiet)} ms; ${median(side.purgedPerSecond).toFixed(0)} sessions purged a second meanwhile`,
  );
}

const data = populate();
console.error(`${SESSIONS.toLocaleString('en')} sessions (half expired) written in ${data.seconds.toFixed(0)} s`);
const whoami = { connections: CONNECTIONS, mode: 'get', tokens: data.live.map(tokens.access) } as const;
await scenario('whoami on SQLite, access cache on', () => whoami, '10000');
await scenario('whoami on SQLite, access cache off', () => whoami, '0');
await scenario(
  'refresh on SQLite',
  (r) => ({
    connections: CONNECTIONS,
    mode: 'refresh',
    tokens: data.chains.slice(r * CONNECTIONS, (r + 1) * CONNECTIONS).map(tokens.refresh),
  }),
  '10000',
);
const left = sessionsLeft(data.file) - SESSIONS / 2;
console.log(
  left > 0
    ? `Expired sessions still to purge at the end: ${left.toLocaleString('en')} of ${(SESSIONS / 2).toLocaleString('en')} (the purge ran through every round).`
    : 'The backlog ran out before the last round: raise BENCH_SQLITE_SESSIONS.',
);
process.exit(0);
