/**
 * npm run bench:sqlite-purge: does a server on SQLite keep answering while it purges a backlog?
 * A SQLite file with BENCH_SQLITE_SESSIONS sessions (2,000,000 by default, a tenth as many
 * users), half of them expired. On it, Tessera with its purge timer off, then a Tessera whose
 * timer starts a purge every second (PURGE_INTERVAL=1), rounds alternating; whoami measured on
 * each, with the access cache on and with it off (every request reads the database), and
 * refresh (each a write, which waits for the purge's batch to commit). Prints throughput and p99
 * during the purge against before, and the sessions purged a second.
 *   BENCH_SQLITE_SESSIONS=2000000 npm run bench:sqlite-purge
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import SqliteDatabase from 'better-sqlite3';
import { purgeAfter } from '../src/store/sql/purge-after.js';
import { hmacKeyRing } from '../src/tokens/keys.js';
import { createTokenService } from '../src/tokens/token-service.js';
import { load, type Measured, median, ROOT, tempDir, tessera } from './harness.js';
import type { LoadOptions } from './load.js';

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

interface LiveSession {
  id: string;
  userId: string;
  refreshJti: string;
  expiresAt: number;
}

interface Loaded {
  dir: string;
  file: string;
  live: LiveSession[];
  chains: LiveSession[];
  seconds: number;
}

/** A migrated SQLite file: SESSIONS sessions of SESSIONS / 10 users, every other one expired a day or more ago. */
function populate(): Loaded {
  const dir = tempDir('sqlite-purge-');
  const started = process.hrtime.bigint();
  execFileSync(process.execPath, [join(ROOT, 'dist', 'main.js'), 'migrate'], {
    env: { PATH: process.env.PATH ?? '', DATA_DIR: dir, SECRET_KEY: SECRET },
  });
  const file = join(dir, 'tessera.sqlite3');
  const db = new SqliteDatabase(file);
  const users = Math.max(1, Math.floor(SESSIONS / 10));
  const ids = Array.from({ length: users }, () => randomUUID());
  const addUser = db.prepare(
    `insert into users (id, username, username_key, email, email_key, password_hash, roles, disabled, created_at, updated_at, email_verified_at)
     values (?, ?, ?, ?, ?, 'not a hash: nobody logs in here', '[]', 0, ?, ?, ?)`,
  );
  const addSession = db.prepare(
    `insert into sessions (id, user_id, refresh_jti, refresh_issued_at, created_at, last_used_at, expires_at, purge_after, user_agent, ip, aal, amr)
     values (?, ?, ?, ?, ?, ?, ?, ?, 'bench/1.0', '127.0.0.1', 1, '["pwd"]')`,
  );
  const live: LiveSession[] = [];
  const chains: LiveSession[] = [];
  const liveEvery = Math.max(1, Math.floor(SESSIONS / 2 / SAMPLED));
  db.transaction(() => {
    ids.forEach((id, i) => {
      addUser.run(id, `user${i}`, `user${i}`, `user${i}@example.com`, `user${i}@example.com`, NOW, NOW, NOW);
    });
    for (let i = 0; i < SESSIONS; i++) {
      const expired = i % 2 === 0;
      // Expired over the last 20 days, as a backlog left by a server that was down would be.
      const expiresAt = expired ? NOW - 86_400_000 * (1 + (i % 20)) : NOW + 30 * 86_400_000;
      const session = { id: randomUUID(), userId: ids[i % users] ?? '', refreshJti: randomUUID(), expiresAt };
      if (!expired && chains.length < CHAINS) chains.push(session);
      else if (!expired && (i >> 1) % liveEvery === 0 && live.length < SAMPLED) live.push(session);
      addSession.run(
        session.id,
        session.userId,
        session.refreshJti,
        Math.floor(NOW / 1000) - 3600,
        NOW,
        NOW,
        expiresAt,
        purgeAfter(expiresAt),
      );
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
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

const tokenService = createTokenService({ keys: hmacKeyRing(SECRET), issuer: 'tessera', leewaySeconds: 0 });
const refreshToken = (s: LiveSession) =>
  tokenService.sign({
    sub: s.userId,
    jti: s.refreshJti,
    sid: s.id,
    type: 'refresh',
    iat: Math.floor(NOW / 1000) - 3600,
    exp: Math.floor(s.expiresAt / 1000),
  });
const accessToken = (s: LiveSession) => {
  const iat = Math.floor(NOW / 1000);
  return tokenService.sign({
    sub: s.userId,
    jti: randomUUID(),
    sid: s.id,
    type: 'access',
    iat,
    exp: iat + 3600,
    fresh: false,
    roles: [],
    aal: 1,
    amr: ['pwd'],
  });
};

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

interface Side {
  quiet: Measured[];
  during: Measured[];
  purgedPerSecond: number[];
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
const tokens = data.live.map(accessToken);
const whoami = { connections: CONNECTIONS, mode: 'get', tokens } as const;
await scenario('whoami on SQLite, access cache on', () => whoami, '10000');
await scenario('whoami on SQLite, access cache off', () => whoami, '0');
await scenario(
  'refresh on SQLite',
  (r) => ({
    connections: CONNECTIONS,
    mode: 'refresh',
    tokens: data.chains.slice(r * CONNECTIONS, (r + 1) * CONNECTIONS).map(refreshToken),
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
