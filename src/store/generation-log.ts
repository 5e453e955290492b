/**
 * The reading side of the invalidation generation, shared by both engines: read the counter (a
 * one-row lookup, every time), and only when it moved, the log rows up to that value (committed
 * with it, so all there), and GenerationLog turns them into "what changed since g".
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.js';
import type { Generation } from './types.js';

/** How many raises of the log are kept, in the database and in memory. */
export const GENERATIONS_KEPT = 10_000;

export interface LogRow {
  generation: unknown;
  subject: unknown;
}

export function counterQuery() {
  return sql<{ value: unknown }>`select value from tessera_generation where id = 1`;
}

/** The log rows of the raises after `after`, up to and including `upTo`, in order. */
export function logQuery(after: number, upTo: number) {
  return sql<LogRow>`select generation, subject from tessera_changes
    where generation > ${after} and generation <= ${upTo} order by generation`;
}

export async function purgeGenerationLog(db: Kysely<Database>): Promise<number> {
  const result = await sql`delete from tessera_changes
    where generation <= (select value from tessera_generation where id = 1) - ${GENERATIONS_KEPT}`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export class GenerationLog {
  private latest = -1;
  /**
   * Whom each raise concerned, for an unbroken run of raises ending at `latest`: a raise missing
   * here (before the first read, trimmed, or never logged) makes what changed across it unknown.
   */
  private readonly subjects = new Map<number, string[]>();

  /** The counter value of the last read: log rows above it explain the next one. */
  get since(): number {
    return this.latest;
  }

  /** Whether `value` needs the log rows above `since` to be explained (no history before the first read). */
  needsRows(value: number): boolean {
    return this.latest >= 0 && value > this.latest;
  }

  record(counter: unknown, rows: readonly LogRow[]): Generation {
    const value = generationValue(counter);
    if (this.latest < 0 || value < this.latest) {
      // First read, or a counter that went back (a restored backup): no history to offer.
      this.subjects.clear();
    } else if (value > this.latest) {
      const seen = new Map<number, string[]>();
      for (const row of rows) {
        const generation = Number(row.generation);
        if (generation <= this.latest || generation > value) continue;
        const list = seen.get(generation) ?? [];
        list.push(String(row.subject));
        seen.set(generation, list);
      }
      if (seen.size === value - this.latest) {
        for (const [generation, list] of seen) this.subjects.set(generation, list);
        for (const generation of this.subjects.keys()) {
          if (generation > value - GENERATIONS_KEPT) break;
          this.subjects.delete(generation);
        }
      } else {
        // A raise without its log rows (purged, or the counter moved by hand): no history.
        this.subjects.clear();
      }
    }
    this.latest = value;
    return {
      value,
      changedSince: (since) => {
        if (since >= value) return new Set();
        const changed = new Set<string>();
        for (let generation = since + 1; generation <= value; generation++) {
          const list = this.subjects.get(generation);
          if (list === undefined) return undefined;
          for (const subject of list) changed.add(subject);
        }
        return changed;
      },
    };
  }
}

/** The counter as read; without its row nothing would ever raise it, so no cache may trust it. */
function generationValue(value: unknown): number {
  if (value === undefined || value === null) throw new Error('tessera_generation has no row; run `tessera migrate`.');
  return Number(value);
}
