/**
 * Records read from rows share one hidden class (V8's map) per kind. The access cache keeps
 * 10,000 principals; on Node 20 an object built as `{ ...a, more }` got a map of its own, and a
 * session record built that way cost 8 µs to make and a map and descriptor array to keep (17 MB
 * of a full cache's resident set, docs/BENCHMARKS.md, session 18). V8 is asked directly
 * (`%HaveSameMap`), in a child process started with `--allow-natives-syntax`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { onlyStrings } from '../src/only-strings.js';
import { TSX } from './server-process.js';
import { tempDir } from './temp-dir.js';

const ROWS = join(import.meta.dirname, '..', 'src', 'store', 'sql', 'rows.ts');

/**
 * Builds records from rows whose nullable columns vary (as a live table's do), then prints, per
 * kind, how many of the next 200 have the same map as the one before. Natives syntax goes
 * through `new Function` so that no loader has to parse it. `alternating` is the control (two
 * shapes in turn, so no neighbours match): a probe unable to tell maps apart fails the test
 * instead of passing it. `spread` is the shape the fix removed, reported, not judged: Node 20
 * gives each such copy a map of its own, Node 24 does not.
 */
const PROBE = `
import { toMintingSession, toSession, toUser } from ${JSON.stringify(ROWS)};
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)');
const pick = (i, values) => values[i % values.length];
const sessionRow = (i) => ({
  id: 's' + i, user_id: 'u' + i, refresh_jti: 'r' + i, refresh_issued_at: 1764600000 + i,
  previous_jti: pick(i, [null, 'p' + i]), rotated_at: pick(i, [null, 1764600000000 + i]),
  created_at: 1764600000000, last_used_at: 1764600000000 + i, expires_at: 1767200000000 + i,
  ended_at: pick(i, [null, null, 1764600000500]), end_reason: pick(i, [null, null, 'logout']),
  user_agent: pick(i, ['bench/1.0', null]), ip: pick(i, ['127.0.0.1', null]), aal: pick(i, [1, 2]),
  amr: pick(i, ['["pwd"]', '["pwd","otp"]']),
});
const userRow = (i) => ({
  id: 'u' + i, username: 'user' + i, username_key: 'user' + i, email: 'u' + i + '@example.com',
  email_key: 'u' + i + '@example.com', password_hash: '$argon2id$v=19$m=19456,t=2,p=1$x$y',
  roles: pick(i, ['[]', '["admin"]']), disabled: 0, created_at: 1764600000000 + i,
  updated_at: 1764600000000 + i, email_verified_at: pick(i, [null, 1764600000000]),
});
const kinds = {
  session: (i) => toSession(sessionRow(i)),
  minting: (i) => toMintingSession(sessionRow(i)),
  user: (i) => toUser(userRow(i)),
  spread: (i) => ({ ...toMintingSession(sessionRow(i)), previousJti: null }),
  alternating: (i) => (i % 2 ? { a: i } : { b: i }),
};
const counts = {};
for (const [kind, make] of Object.entries(kinds)) {
  for (let i = 0; i < 100; i++) make(i);
  const made = Array.from({ length: 200 }, (_, i) => make(100 + i));
  counts[kind] = made.filter((record, i) => i > 0 && sameMap(record, made[i - 1])).length;
}
console.log(JSON.stringify(counts));
`;

function probe(): Promise<Record<string, number>> {
  const dir = tempDir('tessera-shapes-');
  const file = join(dir, 'probe.mjs');
  writeFileSync(file, PROBE);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--allow-natives-syntax', '--import', TSX, file], (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number>);
    });
  });
}

test('session, minting and user records each share one hidden class', async (t) => {
  const counts = await probe();
  assert.equal(counts.alternating, 0, `the probe does not tell maps apart: ${JSON.stringify(counts)}`);
  assert.deepEqual(
    { session: counts.session, minting: counts.minting, user: counts.user },
    { session: 199, minting: 199, user: 199 },
  );
  t.diagnostic(`${process.version}: ${counts.spread} of 199 spread copies shared their neighbour's map`);
});

test('onlyStrings keeps exactly the strings, in order, and returns an all-string array itself', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.object())), (values) => {
      const kept = onlyStrings(values);
      assert.deepEqual(
        kept,
        values.filter((v) => typeof v === 'string'),
      );
      if (values.every((v) => typeof v === 'string')) assert.equal(kept, values);
    }),
  );
});
