import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { COMMIT_WAIT_MS, FRESHNESS_MS, sharedGeneration } from '../src/store/shared-generation.js';
import { waitFor } from '../src/store/sql/commit-wait.js';
import type { Generation } from '../src/store/types.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A database counter read over a network: a read sees the writes committed before it was sent
 * (the least it can see) and its answer arrives whenever the test delivers it.
 */
function model() {
  let time = 0;
  let counter = 0;
  const out: { value: number; answer: (generation: Generation) => void }[] = [];
  const source = sharedGeneration({
    now: () => time,
    read: () =>
      new Promise<Generation>((resolve) => {
        out.push({ value: counter, answer: resolve });
      }),
    purge: async () => 0,
  });
  return {
    source,
    out,
    advance: (ms: number) => {
      time += ms;
    },
    now: () => time,
    commit: () => ++counter,
    deliver: () => {
      const read = out.shift();
      read?.answer({ value: read.value, changedSince: () => undefined });
    },
  };
}

describe('a generation shared by several instances', () => {
  it('counts every write whose writer answered before the request arrived (writers answer COMMIT_WAIT_MS after committing)', async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }),
      fc.constant({ kind: 'commit' as const }),
      fc.constant({ kind: 'request' as const }),
      fc.constant({ kind: 'deliver' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 80 }), async (steps) => {
        const m = model();
        const answered: { value: number; at: number }[] = [];
        const checks: Promise<string | undefined>[] = [];
        for (const s of steps) {
          if (s.kind === 'advance') m.advance(s.ms);
          else if (s.kind === 'commit') answered.push({ value: m.commit(), at: m.now() + COMMIT_WAIT_MS });
          else if (s.kind === 'deliver') m.deliver();
          else {
            const arrived = m.now();
            const owed = Math.max(0, ...answered.filter((w) => w.at <= arrived).map((w) => w.value));
            checks.push(
              m.source
                .recent()
                .then(({ value }) => (value >= owed ? undefined : `arrived at ${arrived}: saw ${value}, owed ${owed}`)),
            );
          }
          await settle();
        }
        while (m.out.length > 0) {
          m.deliver();
          await settle();
        }
        assert.deepEqual((await Promise.all(checks)).filter(Boolean), []);
      }),
      { numRuns: 300 },
    );
  });

  it('answers from a fresh read without another round trip, reads ahead, and waits once the read is too old', async () => {
    const m = model();
    const first = m.source.recent();
    assert.equal(m.out.length, 1, 'nothing read yet: one read');
    m.deliver();
    assert.equal((await first).value, 0);

    m.advance(FRESHNESS_MS / 2 - 1);
    await m.source.recent();
    assert.equal(m.out.length, 0, 'fresh: answered from memory');

    m.advance(2);
    await m.source.recent();
    assert.equal(m.out.length, 1, 'over half the window: answered from memory, the next read sent ahead');
    m.commit();
    m.deliver();
    await settle();

    m.advance(FRESHNESS_MS + 1);
    let done = false;
    const stale = m.source.recent().then((g) => {
      done = true;
      return g;
    });
    await settle();
    assert.equal(done, false, 'too old: waits');
    assert.equal(m.out.length, 1, 'for a read sent after it arrived');
    m.deliver();
    assert.equal((await stale).value, 1);
  });

  it('observe() waits for a read sent after the call, shared by the callers that came meanwhile', async () => {
    const m = model();
    const a = m.source.observe();
    m.commit();
    const b = m.source.observe();
    const c = m.source.observe();
    assert.equal(m.out.length, 1, 'one read out; b and c wait for the next');
    m.deliver();
    assert.equal((await a).value, 0);
    await settle();
    assert.equal(m.out.length, 1, 'one read for both');
    m.deliver();
    assert.deepEqual([(await b).value, (await c).value], [1, 1]);
  });

  it('a commit wait ends no sooner than asked by the monotonic clock', async () => {
    const started = performance.now();
    await waitFor(COMMIT_WAIT_MS);
    assert.ok(performance.now() - started >= COMMIT_WAIT_MS);
    assert.ok(COMMIT_WAIT_MS > FRESHNESS_MS, 'a writer waits longer than a reading is trusted');
  });
});
