/**
 * What the benchmarks share: starting servers as processes of their own, driving them with load
 * from another process, reading a process's CPU time and resident memory, medians, and
 * throw-away PostgreSQL databases.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { tempDir } from '../test/temp-dir.js';
import type { LoadOptions, LoadResult } from './load.js';

/** Every file a bench run writes (servers' data, load options): removed when the run exits. */
export { tempDir };

export const ROOT = join(import.meta.dirname, '..');
export const TSX = import.meta.resolve('tsx');
export const POSTGRES = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface Server {
  url: string;
  child: ChildProcess;
}
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export function start(args: string[], env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
    cwd: env.DATA_DIR ?? ROOT,
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += String(chunk);
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1]) resolve({ url: match[1], child });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => reject(new Error(`server exited:\n${output}`)));
  });
}

const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
/**
 * The Node flags of `npm start` (see "Memory" in the README), read from package.json so that the
 * bench runs Tessera exactly as it is deployed.
 */
export const NODE_FLAGS: readonly string[] = packageJson.scripts.start
  .split(/\s+/)
  .filter((word) => word.startsWith('--'));

export function tessera(env: Record<string, string>): Promise<Server> {
  const dir = env.DATA_DIR ?? tempDir('server-');
  return start([...NODE_FLAGS, join(ROOT, 'dist', 'main.js'), 'serve'], {
    DATA_DIR: dir,
    SECRET_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'info', // the level that prints the listening address; still no per-request lines
    RATE_LIMIT_PER_IP: '1000000',
    // Refresh chains run flat out; the per-session bound's check runs all the same (its cutoff is
    // a parameter of the rotation statement), it just never refuses.
    REFRESH_MIN_INTERVAL_MS: '0',
    NODE_ENV: 'production',
    // No mail server here, and no scenario sends mail: production needs SMTP_URL or this.
    MAIL_DISABLED: 'true',
    // As npm start sets it: see "Memory" in the README.
    MALLOC_ARENA_MAX: '1',
    ...env,
  });
}

/** CPU seconds a process has used so far, all its threads, user and system (Linux). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticksPerSecond = 100; // USER_HZ, fixed at 100 on Linux whatever the kernel's HZ
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** The pids and CPU seconds so far of the PostgreSQL and Redis servers' processes on this machine. */
function servicesCpu(): Map<number, number> {
  const found = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm === 'postgres' || comm === 'redis-server') found.set(Number(entry), cpuSeconds(Number(entry)));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/**
 * Counts the CPU PostgreSQL and Redis spend from now until `stop()`: every process of theirs
 * (PostgreSQL forks one per connection). They serve Tessera's requests, so a scenario that uses
 * them counts their CPU with Tessera's. Sampled per process, because connections come and go
 * during a run: a total taken twice would lose the whole lifetime of a backend the pool closed
 * meanwhile (an idle one from before the run, say) and could even come out below zero. A process
 * that ends loses only its time since the last sample; one that starts counts from its fork.
 */
export function servicesCpuCounter(intervalMs = 100): { stop: () => number } {
  let last = servicesCpu();
  let total = 0;
  const sample = () => {
    const now = servicesCpu();
    for (const [pid, seconds] of now) total += seconds - (last.get(pid) ?? 0);
    last = now;
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return total;
    },
  };
}

export interface Measured extends LoadResult {
  /** CPU time the server spent per request (with the services', when counted): steadier than throughput on a shared machine. */
  cpuUs?: number;
  /** Of cpuUs, the part PostgreSQL and Redis spent. */
  servicesCpuUs?: number;
}

/**
 * Runs a load against `server` and measures the CPU the server spent on it; with `services`,
 * PostgreSQL's and Redis' CPU over the same time is added (and reported apart).
 */
export function load(options: LoadOptions, server?: Server, services = false): Promise<Measured> {
  const before = server?.child.pid ? cpuSeconds(server.child.pid) : 0;
  const servicesCounter = services ? servicesCpuCounter() : undefined;
  let servicesSeconds: number | undefined;
  const stopCounting = () => {
    servicesSeconds = servicesCounter?.stop();
  };
  return startLoad(options)
    .result.finally(stopCounting)
    .then((result) => {
      const requests = result.rps * options.seconds;
      const pid = server?.child.pid;
      if (!pid || requests === 0) return result;
      const own = ((cpuSeconds(pid) - before) * 1e6) / requests;
      if (servicesSeconds === undefined) return { ...result, cpuUs: own };
      const theirs = (servicesSeconds * 1e6) / requests;
      return { ...result, cpuUs: own + theirs, servicesCpuUs: theirs };
    });
}

/**
 * Runs `task` under load and gives the load's figures over the task's span alone: `task` starts
 * once the load runs, and the load stops when `task` settles. For a span not known in advance
 * (a purge's): a load of fixed length would mix in the time before or after it.
 */
export async function loadDuring<T>(
  options: Omit<LoadOptions, 'seconds'>,
  task: () => Promise<T>,
): Promise<[LoadResult, T]> {
  const running = startLoad({ ...options, seconds: 3600 });
  await running.started;
  const done = task();
  const stop = () => running.child.kill('SIGTERM');
  done.then(stop, stop);
  return Promise.all([running.result, done]);
}

/** Starts a load process; `started` settles once its connections are sending. */
function startLoad(options: LoadOptions): { child: ChildProcess; started: Promise<void>; result: Promise<LoadResult> } {
  // Through a file: thousands of tokens do not fit on a command line.
  const file = join(tempDir('load-'), 'options.json');
  writeFileSync(file, JSON.stringify(options));
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'bench', 'load.ts'), file]);
  let out = '';
  let markStarted = () => {};
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  child.stdout.on('data', (chunk) => {
    out += chunk;
    if (out.startsWith('running\n')) markStarted();
  });
  child.stderr.on('data', (chunk) => process.stderr.write(chunk));
  const result = new Promise<LoadResult>((resolve, reject) =>
    child.on('exit', (code) => {
      markStarted();
      if (code !== 0) return reject(new Error(`load exited ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as LoadResult);
    }),
  );
  return { child, started, result };
}

/** Samples the resident set of a process while `during` runs; returns the peak in MB. */
export async function peakRss<T>(pid: number, during: Promise<T>): Promise<[T, number]> {
  let peak = 0;
  const timer = setInterval(() => {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    peak = Math.max(peak, Number(match?.[1] ?? 0) / 1024);
  }, 100);
  try {
    return [await during, peak];
  } finally {
    clearInterval(timer);
  }
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

export async function createDatabase(): Promise<string> {
  const name = `tessera_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  process.on('exit', () => {
    try {
      execFileSync('psql', [POSTGRES, '-qc', `drop database if exists ${name} with (force)`], { stdio: 'ignore' });
    } catch {
      // best effort
    }
  });
  const url = new URL(POSTGRES);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Gathers planner statistics for `tables`, as autovacuum does on a live database. */
export async function analyze(databaseUrl: string, tables: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const table of tables) await client.query(`analyze ${table}`);
  } finally {
    await client.end();
  }
}

/**
 * Runs A then B, `rounds` times (A B A B …, so both see the same drift of a shared machine),
 * and gives each side's results with the per-round ratios of A's throughput to B's. Each side
 * first runs one unmeasured round, numbered `rounds` (after the measured ones, so a round that
 * spends its own data has fresh data): a first round pays for V8 compiling the path (a fifth of
 * refresh's CPU, measured) and for the database reading its pages, which a long-running server
 * pays once.
 */
export async function alternate<A extends { rps: number }, B extends { rps: number }>(
  rounds: number,
  a: (round: number) => Promise<A>,
  b: (round: number) => Promise<B>,
): Promise<{ a: A[]; b: B[]; ratios: number[] }> {
  await a(rounds);
  await b(rounds);
  const as: A[] = [];
  const bs: B[] = [];
  for (let round = 0; round < rounds; round++) {
    as.push(await a(round));
    bs.push(await b(round));
  }
  return { a: as, b: bs, ratios: as.map((r, i) => r.rps / (bs[i]?.rps ?? Number.NaN)) };
}
