/**
 * Delivers the outbox: claims due entries (atomically, so several instances never take the same
 * one), hands each to the handler of its topic, and marks it done, retries it with backoff, or
 * records it as failed. A claim is a lease: an entry whose instance died is taken again when the
 * lease ends, so an entry is handled at least once; never by two instances at the same time.
 */
import type { Clock } from '../clock.js';
import type { Sealer } from '../crypto/sealer.js';
import type { ClaimedEntry, OutboxStore } from '../store/types.js';

/** A failure that retrying cannot mend (an address the mail server refuses for good). */
export class PermanentFailure extends Error {}

/**
 * What a handler did: 'done' (the worker marks it), or 'completed' when the handler marked the
 * entry done itself, in the transaction of its own writes (so a job runs its effect once).
 */
export type HandlerOutcome = 'done' | 'completed';

export type OutboxHandler = (payload: unknown, entry: ClaimedEntry) => Promise<HandlerOutcome>;

export interface OutboxWorkerOptions {
  outbox: OutboxStore;
  sealer: Sealer;
  clock: Clock;
  handlers: Readonly<Record<string, OutboxHandler>>;
  warn: (message: string, context: Record<string, unknown>) => void;
  /** How often due entries are looked for when nothing wakes the worker. */
  pollMs?: number;
  /** Told of each try that failed: `final` when the entry is given up. */
  onFailure?: (topic: string, final: boolean) => void;
}

export interface OutboxWorker {
  start(): void;
  /** Looks for due entries now (after a commit that queued some). */
  wake(): void;
  /** Handles every entry due now; resolves when none is left. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/** Retries go on for at least this long before an entry is recorded as failed. */
export const RETRY_FOR_MS = 24 * 3600 * 1000;
/** Longer than any send may take (the SMTP timeouts), so a live claim never lapses mid-send. */
export const LEASE_MS = 2 * 60 * 1000;
const BATCH = 10;
const FIRST_RETRY_MS = 5000;
/** Capped at a minute: when a server comes back, what queued goes out within a minute. */
const MAX_RETRY_MS = 60_000;

/** 5 s, 10 s, 20 s, 40 s, then every minute, each ±20% so instances do not retry in step. */
export function retryDelayMs(attempts: number, random = Math.random): number {
  const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export function createOutboxWorker(o: OutboxWorkerOptions): OutboxWorker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const handle = async (entry: ClaimedEntry) => {
    const handler = o.handlers[entry.topic];
    try {
      if (!handler) throw new PermanentFailure(`no handler for topic ${entry.topic}`);
      let payload: unknown;
      try {
        payload = JSON.parse(o.sealer.open(entry.payload));
      } catch {
        throw new PermanentFailure('the payload cannot be opened (was SECRET_KEY changed?)');
      }
      if ((await handler(payload, entry)) === 'done') await o.outbox.complete(entry.id, o.clock.now());
    } catch (error) {
      const now = o.clock.now();
      const reason = error instanceof Error ? error.message : String(error);
      const final = error instanceof PermanentFailure || now - entry.createdAt >= RETRY_FOR_MS;
      o.onFailure?.(entry.topic, final);
      if (final) {
        o.warn('outbox entry failed for good', { id: entry.id, topic: entry.topic, attempts: entry.attempts, reason });
        await o.outbox.fail(entry.id, now, reason);
      } else {
        await o.outbox.retry(entry.id, now + retryDelayMs(entry.attempts), reason);
      }
    }
  };

  const drainOnce = async () => {
    for (;;) {
      const now = o.clock.now();
      const claimed = await o.outbox.claim(now, now + LEASE_MS, BATCH);
      if (claimed.length === 0) return;
      // At once, not one after another: the whole batch ends within one send's time, well inside
      // the lease, so no entry of it can be claimed again while it is still being sent.
      await Promise.all(claimed.map(handle));
    }
  };

  const drain = (): Promise<void> => {
    if (running) {
      // One pass at a time; a wake during a pass asks for one more after it.
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await drainOnce();
      } while (again);
    })()
      .catch((error: unknown) => o.warn('outbox pass failed; will try again', { reason: (error as Error).message }))
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    start() {
      timer ??= setInterval(() => void drain(), o.pollMs ?? 1000);
      timer.unref();
      void drain();
    },
    wake() {
      if (timer) setImmediate(() => void drain());
    },
    drain,
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
