/**
 * src/pin-tick-shape.ts: a full garbage collection at a quiet moment must not leave
 * `process.nextTick` defining its queue entries through V8's runtime. What is read is V8's own
 * record of the sites (`%DebugPrint` of nextTick's feedback), in child processes started with
 * `--allow-natives-syntax --expose-gc`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { get, MAIN, post, TSX } from './server-process.js';
import { tempDir } from './temp-dir.js';

const V8_FLAGS = ['--allow-natives-syntax', '--expose-gc'];
const PIN = join(import.meta.dirname, '..', 'src', 'pin-tick-shape.ts');

/**
 * Calls nextTick enough for V8 to keep feedback for it, collects everything while the tick queue
 * is empty, calls it again, then prints its feedback after a marker. Natives syntax goes through
 * `new Function` so that no loader has to parse it. V8 prints through C's buffered stdout, which
 * is complete only once the process has exited.
 */
const PROBE = `
const debugPrint = new Function('f', '%DebugPrint(f)');
export async function probe() {
  const ticks = async () => {
    for (let i = 0; i < 200; i++) process.nextTick(() => {}, i);
    await new Promise((resolve) => setTimeout(resolve, 5));
  };
  await ticks();
  globalThis.gc();
  await ticks();
  process.stdout.write('@@feedback\\n');
  debugPrint(process.nextTick);
}
`;

/** The states of nextTick's DefineKeyedOwnPropertyInLiteral sites, as printed after the marker. */
function literalSites(output: string): string[] {
  const start = output.indexOf('@@feedback');
  const printed = start < 0 ? '' : output.slice(start);
  return [...printed.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1] ?? '');
}

/**
 * Runs node with `args` in `dir`, its stdout going to a file: V8 prints through C's stdio, and
 * into a pipe that Node has made non-blocking a full pipe drops what does not fit.
 */
function run(args: string[], dir: string): Promise<string> {
  const file = join(dir, 'stdout.txt');
  const stdout = openSync(file, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', stdout, 'pipe'] });
    let errors = '';
    child.stderr?.on('data', (chunk) => (errors += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(stdout);
      const output = readFileSync(file, 'utf8');
      if (code === 0) resolve(output);
      else reject(new Error(`exit ${code}:\n${output}${errors}`));
    });
  });
}

test('without a pinned entry, a full collection on an empty tick queue makes nextTick megamorphic', async () => {
  // The behaviour the pin works around. If this fails, this Node keeps the maps by itself and
  // src/pin-tick-shape.ts can go.
  const dir = tempDir('tessera-tick-');
  writeFileSync(join(dir, 'probe.mjs'), PROBE);
  writeFileSync(join(dir, 'main.mjs'), `import { probe } from './probe.mjs';\nawait probe();\n`);
  const output = await run([...V8_FLAGS, 'main.mjs'], dir);
  const sites = literalSites(output);
  assert.ok(sites.length >= 3, `feedback not printed:\n${output}`);
  assert.ok(sites.includes('MEGAMORPHIC'), `expected a megamorphic site, got ${sites.join(', ')}`);
});

test('with the pin, the same collection leaves every nextTick site monomorphic', async () => {
  const dir = tempDir('tessera-tick-');
  writeFileSync(join(dir, 'probe.mjs'), PROBE);
  writeFileSync(
    join(dir, 'main.mjs'),
    `const { pinnedTickObject } = await import(${JSON.stringify(PIN)});\n` +
      `if (!pinnedTickObject) throw new Error('no TickObject captured');\n` +
      `const { probe } = await import('./probe.mjs');\nawait probe();\n`,
  );
  const output = await run([...V8_FLAGS, '--import', TSX, 'main.mjs'], dir);
  const sites = literalSites(output);
  assert.ok(sites.length >= 3, `feedback not printed:\n${output}`);
  assert.deepEqual(new Set(sites), new Set(['MONOMORPHIC']));
});

test('the pin holds a real queue entry: two symbol keys, then callback and args', async () => {
  const { pinnedTickObject } = await import('../src/pin-tick-shape.js');
  assert.ok(pinnedTickObject);
  assert.equal(Object.getOwnPropertySymbols(pinnedTickObject).length >= 2, true);
  assert.deepEqual(Object.keys(pinnedTickObject), ['callback', 'args']);
});

test('tessera serve: after requests and a full collection, nextTick stays monomorphic', async (t) => {
  const dir = tempDir('tessera-tick-');
  // Loaded before tsx. A line on the server's stdin runs the probe there (signals are the
  // server's own: they drain it); the server's stdout goes to a file, as in run().
  writeFileSync(join(dir, 'probe.mjs'), PROBE);
  writeFileSync(
    join(dir, 'on-input.mjs'),
    `import { probe } from './probe.mjs';\nprocess.stdin.once('data', () => void probe());\n`,
  );
  const file = join(dir, 'stdout.txt');
  const stdout = openSync(file, 'w');
  const child = spawn(
    process.execPath,
    [...V8_FLAGS, '--import', join(dir, 'on-input.mjs'), '--import', TSX, MAIN, 'serve'],
    {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        LOG_LEVEL: 'info',
        DATA_DIR: dir,
        SECRET_KEY: 'k'.repeat(40),
        MAIL_DISABLED: 'true',
      },
      stdio: ['pipe', stdout, 'inherit'],
    },
  );
  const closed = new Promise((resolve) => child.once('close', resolve));
  t.after(() => child.kill('SIGKILL'));
  const output = () => readFileSync(file, 'utf8');
  const waitFor = async (pattern: RegExp) => {
    for (let i = 0; i < 600; i++) {
      const match = pattern.exec(output());
      if (match) return match;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${pattern} never appeared:\n${output()}`);
  };
  const url = (await waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/))[1];
  const credentials = { username: 'ticker', email: 'ticker@example.com', password: 'a long enough passphrase' };
  assert.equal((await post(`${url}/auth/register`, credentials)).status, 201);
  const login = await post(`${url}/auth/login`, credentials);
  const token = (login.body.tokens as { access_token: string }).access_token;
  for (let i = 0; i < 50; i++) assert.equal((await get(`${url}/auth/whoami`, token)).status, 200);
  child.stdin?.write('probe\n');
  await waitFor(/@@feedback/);
  // A drained exit flushes what V8 printed.
  child.kill('SIGTERM');
  await closed;
  closeSync(stdout);
  const sites = literalSites(output());
  assert.ok(sites.length >= 3, `feedback not printed:\n${output()}`);
  assert.deepEqual(new Set(sites), new Set(['MONOMORPHIC']));
});
