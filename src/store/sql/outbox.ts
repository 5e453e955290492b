import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { OutboxStore } from '../types.js';
import { purgeDue } from './purge-in-batches.js';

/** Errors are kept short in the table: they are for an operator's eyes, not a log. */
const MAX_ERROR = 1000;

export function createOutboxStore(db: Kysely<Database>, engine: SqlEngine): OutboxStore {
  return {
    async enqueue(entry) {
      await db
        .insertInto('outbox')
        .values({
          id: entry.id,
          topic: entry.topic,
          payload: entry.payload,
          recipient: entry.recipient,
          state: 'pending',
          attempts: 0,
          next_attempt_at: entry.createdAt,
          claimed_until: null,
          last_error: null,
          created_at: entry.createdAt,
          finished_at: null,
        })
        .execute();
    },
    async claim(now, leaseUntil, limit) {
      const dueEntries = db
        .selectFrom('outbox')
        .select('id')
        .where('state', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]));
      // Every instance polls every second. The claim below is a write, and on SQLite a write takes
      // the database's one write lock even when it matches nothing: an idle poll would wait in the
      // busy handler, holding the event loop, whenever another connection writes (a purge's batch,
      // a CLI command). So an idle outbox is only read.
      if ((await dueEntries.limit(1).executeTakeFirst()) === undefined) return [];
      let due = dueEntries.orderBy('next_attempt_at').limit(limit);
      // Where rows can be locked, instances claiming at once skip each other's rows instead of
      // queueing on them; SQLite has one writer, so its single statement is already exclusive.
      if (engine.skipLockedRows) due = due.forUpdate().skipLocked();
      const rows = await db
        .updateTable('outbox')
        .set((eb) => ({ claimed_until: leaseUntil, attempts: eb('attempts', '+', 1) }))
        .where('id', 'in', due)
        .where('state', '=', 'pending')
        .returning(['id', 'topic', 'payload', 'recipient', 'created_at', 'attempts'])
        .execute();
      return rows
        .filter((r) => r.payload !== null)
        .map((r) => ({
          id: r.id,
          topic: r.topic,
          payload: r.payload ?? '',
          recipient: r.recipient,
          createdAt: Number(r.created_at),
          attempts: Number(r.attempts),
        }));
    },
    async complete(id, now) {
      await db
        .updateTable('outbox')
        .set({ state: 'done', payload: null, finished_at: now, claimed_until: null })
        .where('id', '=', id)
        .execute();
    },
    async retry(id, nextAttemptAt, error) {
      await db
        .updateTable('outbox')
        .set({ next_attempt_at: nextAttemptAt, claimed_until: null, last_error: error.slice(0, MAX_ERROR) })
        .where('id', '=', id)
        .execute();
    },
    async fail(id, now, error) {
      await db
        .updateTable('outbox')
        .set({
          state: 'failed',
          payload: null,
          finished_at: now,
          claimed_until: null,
          last_error: error.slice(0, MAX_ERROR),
        })
        .where('id', '=', id)
        .execute();
    },
    async counts() {
      const rows = await db
        .selectFrom('outbox')
        .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy('state')
        .execute();
      const count = (state: string) => Number(rows.find((r) => r.state === state)?.n ?? 0);
      return { pending: count('pending'), done: count('done'), failed: count('failed') };
    },
    async pendingByTopic() {
      const rows = await db
        .selectFrom('outbox')
        .select(['topic', (eb) => eb.fn.countAll<number>().as('n')])
        .where('state', '=', 'pending')
        .groupBy('topic')
        .execute();
      return Object.fromEntries(rows.map((row) => [row.topic, Number(row.n)]));
    },
    async failures(limit) {
      const rows = await db
        .selectFrom('outbox')
        .select(['id', 'topic', 'recipient', 'attempts', 'created_at', 'finished_at', 'last_error'])
        .where('state', '=', 'failed')
        .orderBy('finished_at', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        id: r.id,
        topic: r.topic,
        recipient: r.recipient,
        attempts: Number(r.attempts),
        createdAt: Number(r.created_at),
        finishedAt: Number(r.finished_at ?? 0),
        error: r.last_error ?? '',
      }));
    },
    purge(before) {
      // Along the index on (state, next_attempt_at): a done entry's next_attempt_at is when its last
      // attempt was due, so they come about in the order they finished.
      return purgeDue(db, engine, 'outbox', 'next_attempt_at', (eb) =>
        eb.and([eb('state', '=', 'done'), eb('finished_at', '<=', before)]),
      );
    },
  };
}
