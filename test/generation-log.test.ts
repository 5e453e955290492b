import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GenerationLog, type LogRow } from '../src/store/generation-log.js';

/**
 * A model of the database side: raises, each concerning some subjects, some of whose log rows may
 * be missing (purged, or a counter moved by hand). Reads see the counter and the rows above the
 * reader's `since`, as the real statement does. (A restored backup is outside the model: a counter
 * that goes back and climbs to the same value between two reads cannot be told from one that
 * stood still, which is why the README says to restart instances after a restore.)
 */

const step = fc.oneof(
  fc.record({
    kind: fc.constant('raise' as const),
    subjects: fc.array(fc.constantFrom('u1', 'u2', 'u3', 'jti-a', 'jti-b'), { minLength: 1, maxLength: 3 }),
    logged: fc.integer({ min: 0, max: 9 }).map((n) => n > 0),
  }),
  fc.constant({ kind: 'read' as const }),
);

describe('generation log', () => {
  it('never under-reports: what it says changed since g covers every subject raised since g, or it says it does not know', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.integer({ min: 0, max: 5 }), (steps, start) => {
        let value = start;
        const log: { generation: number; subject: string }[] = [];
        const truth = new Map<number, string[]>();
        const reader = new GenerationLog();
        const observations: { value: number; changedSince: (g: number) => ReadonlySet<string> | undefined }[] = [];
        const read = () => {
          const rows: LogRow[] = reader.needsRows(value)
            ? log
                .filter((r) => r.generation > reader.since && r.generation <= value)
                .sort((x, y) => x.generation - y.generation)
            : [];
          observations.push(reader.record(value, rows));
        };
        read();
        for (const s of steps) {
          if (s.kind === 'raise') {
            value += 1;
            truth.set(value, s.subjects);
            if (s.logged) for (const subject of s.subjects) log.push({ generation: value, subject });
          } else {
            read();
          }
        }
        read();
        const last = observations.at(-1);
        assert.ok(last);
        for (const { value: since } of observations) {
          const said = last.changedSince(since);
          if (said === undefined) continue;
          for (let g = since + 1; g <= last.value; g++) {
            for (const subject of truth.get(g) ?? [])
              assert.ok(said.has(subject), `${subject} raised at ${g} missing since ${since}`);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('knows what changed when every raise was logged and read', () => {
    const reader = new GenerationLog();
    const first = reader.record(7, []);
    assert.deepEqual([...(first.changedSince(7) ?? ['?'])], []);
    assert.equal(reader.needsRows(9), true);
    const next = reader.record(9, [
      { generation: 8, subject: 'u1' },
      { generation: 9, subject: 'jti-a' },
      { generation: 9, subject: 'u2' },
    ]);
    assert.deepEqual([...(next.changedSince(7) ?? [])].sort(), ['jti-a', 'u1', 'u2']);
    assert.deepEqual([...(next.changedSince(8) ?? [])].sort(), ['jti-a', 'u2']);
    assert.equal(next.changedSince(6), undefined, 'before the first read');
    assert.equal(
      reader.record(11, [{ generation: 11, subject: 'u3' }]).changedSince(9),
      undefined,
      'raise 10 has no rows',
    );
    assert.equal(reader.needsRows(4), false);
    assert.equal(reader.record(4, []).changedSince(3), undefined, 'went back');
  });
});
