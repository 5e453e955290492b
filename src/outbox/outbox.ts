/**
 * The enqueue side of the durable outbox: mail and jobs are written, sealed, in the caller's
 * transaction, so they exist exactly when the change that caused them committed. The worker
 * (worker.ts) delivers them after the commit.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Sealer } from '../crypto/sealer.js';
import type { RenderedMail } from '../mail/templates.js';
import type { TransactionStores } from '../store/types.js';

/** Topics: a rendered mail to send, or a job whose handler may queue mail. */
export const MAIL_TOPIC = 'mail';

export interface Outbox {
  /** Queues a rendered mail in the transaction `tx`. */
  mail(tx: TransactionStores, mail: RenderedMail): Promise<void>;
  /** Queues a job for the handler of `topic`, with a JSON payload. */
  job(tx: TransactionStores, topic: string, payload: Readonly<Record<string, string>>): Promise<void>;
  /** After a commit that queued something: deliver now rather than at the next poll. */
  committed(): void;
}

export function createOutbox(sealer: Sealer, clock: Clock, onCommitted: () => void): Outbox {
  const enqueue = (tx: TransactionStores, topic: string, body: unknown, recipient: string | null) =>
    tx.outbox.enqueue({
      id: randomUUID(),
      topic,
      payload: sealer.seal(JSON.stringify(body)),
      recipient,
      createdAt: clock.now(),
    });
  return {
    mail: (tx, mail) => enqueue(tx, MAIL_TOPIC, mail, mail.to),
    job: (tx, topic, payload) => enqueue(tx, topic, payload, null),
    committed: onCommitted,
  };
}
