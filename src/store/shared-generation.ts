/**
 * The generation of a database that several instances share (PostgreSQL): reading it is a round
 * trip, so requests do not each wait for one. `recent()` answers from a read sent no more than
 * FRESHNESS_MS ago (sending the next one ahead while requests keep coming), and a write that can
 * stop a token working is answered only COMMIT_WAIT_MS after it committed (sql/commit-wait.ts).
 * So a request that arrives after that answer is checked against a read sent after the commit,
 * on every instance: the revocation is seen at the next request, as with a read per request.
 *
 * Durations are measured on each machine's monotonic clock; rates of such clocks differ by parts
 * per million, far inside the margin.
 */
import type { Generation, GenerationSource } from './types.js';

/** How old a read may be when a request is checked against it. */
export const FRESHNESS_MS = 20;
/** How long after committing a raise its writer waits before answering: FRESHNESS_MS and a margin. */
export const COMMIT_WAIT_MS = FRESHNESS_MS + 5;

interface Reading {
  generation: Generation;
  /** When the read was sent: it saw every write committed before then. */
  sentAt: number;
}

export interface SharedGenerationOptions {
  /** One read of the counter (and of the log rows above the last one). */
  read(): Promise<Generation>;
  purge(): Promise<number>;
  now?: () => number;
}

export function sharedGeneration(o: SharedGenerationOptions): GenerationSource {
  const now = o.now ?? (() => performance.now());
  let latest: Reading | undefined;
  /** The read out, if any, and when it was sent. */
  let out: { sentAt: number; answer: Promise<Generation> } | undefined;
  /** The read to send when the one out is answered, shared by every caller meanwhile. */
  let next: Promise<Generation> | undefined;

  const send = (): Promise<Generation> => {
    const sentAt = now();
    const answer = o.read().then((generation) => {
      if (latest === undefined || sentAt >= latest.sentAt) latest = { generation, sentAt };
      return generation;
    });
    const sent = { sentAt, answer };
    out = sent;
    const done = () => {
      if (out === sent) out = undefined;
    };
    answer.then(done, done);
    return answer;
  };

  /**
   * A read sent after this call: one at a time, shared by every caller that came while it was not
   * yet sent. A caller that comes while a read is out waits for the next one: the one out may
   * have been answered before that caller's request arrived.
   */
  const observe = (): Promise<Generation> => {
    if (out === undefined) return send();
    next ??= out.answer
      .catch(() => {})
      .then(() => {
        next = undefined;
        return send();
      });
    return next;
  };

  /**
   * Callers answered from memory are answered together at the end of the event-loop turn, with
   * the newest reading by then (never older than the one each was checked against). Requests
   * that arrived together are then answered together, as on SQLite: answering each at once cost
   * a third more CPU per whoami on this two-core machine, profiled (each response's write woke
   * the client on its own).
   */
  let turn: Promise<Generation> | undefined;
  const endOfTurn = () =>
    (turn ??= new Promise((resolve) =>
      setImmediate(() => {
        turn = undefined;
        resolve((latest as Reading).generation);
      }),
    ));

  const recent = (): Promise<Generation> => {
    const arrived = now();
    const oldest = arrived - FRESHNESS_MS;
    if (latest !== undefined && latest.sentAt >= oldest) {
      // Half the window gone: read ahead, so that a steady stream of requests never waits.
      if (latest.sentAt < arrived - FRESHNESS_MS / 2 && out === undefined) observe().catch(() => {});
      return endOfTurn();
    }
    if (out !== undefined && out.sentAt >= oldest) return out.answer;
    return observe();
  };

  return { observe, recent, commitWaitMs: COMMIT_WAIT_MS, purge: o.purge };
}
