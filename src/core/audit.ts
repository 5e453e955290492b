/**
 * The audit log: what happened, to whom, by whom, from where. An event is appended in the same
 * transaction as the change it records, so a recorded event happened and no change goes
 * unrecorded; the webhook deliveries it causes are queued in that transaction too (outbox).
 * Events carry no secret: never a password, token, code or link.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { AuditEventRecord, AuditQuery, EngineStores, TransactionStores } from '../store/types.js';

import type { AuditType } from './audit-types.js';
import type { ClientInfo } from './types.js';

export { AUDIT_TYPES, type AuditType } from './audit-types.js';

export type LoginFailureReason =
  | 'unknown_user'
  | 'wrong_password'
  | 'disabled'
  | 'throttled'
  | 'email_not_verified'
  | 'mfa_failed'
  | 'passkey_failed';

export interface AuditFacts {
  userId?: string | null;
  actorId?: string | null;
  sessionId?: string | null;
  client?: ClientInfo | null;
  data?: AuditEventRecord['data'];
}

/** Something that wants to hear of every event as it commits (webhooks, metrics). */
export interface AuditListener {
  /** Runs inside the transaction: may only write through `tx`. */
  inTransaction?(tx: TransactionStores, event: AuditEventRecord): Promise<void>;
  /** After the event is recorded (for counters; never fails the change). */
  recorded?(event: AuditEventRecord): void;
}

export interface AuditLogOptions {
  stores: Pick<EngineStores, 'transaction' | 'audit'>;
  clock: Clock;
  /** False keeps no events (the benchmark's "without"); listeners still hear them. */
  keep: boolean;
  listeners: readonly AuditListener[];
}

export class AuditLog {
  constructor(private readonly o: AuditLogOptions) {}

  /** Appends the event within `tx`, the transaction of the change it records. */
  async record(tx: TransactionStores, type: AuditType, facts: AuditFacts = {}): Promise<AuditEventRecord> {
    const event: AuditEventRecord = {
      id: randomUUID(),
      at: this.o.clock.now(),
      type,
      userId: facts.userId ?? null,
      actorId: facts.actorId ?? null,
      ip: facts.client?.ip ?? null,
      userAgent: facts.client?.userAgent ?? null,
      sessionId: facts.sessionId ?? null,
      data: facts.data ?? null,
    };
    if (this.o.keep) await tx.audit.append(event);
    for (const listener of this.o.listeners) await listener.inTransaction?.(tx, event);
    return event;
  }

  /** After the transaction that recorded `event` committed. */
  committed(event: AuditEventRecord | undefined): void {
    if (!event) return;
    for (const listener of this.o.listeners) listener.recorded?.(event);
  }

  /** An event that changes nothing else (a failed login, a key rotation): its own transaction. */
  async recordAlone(type: AuditType, facts: AuditFacts = {}): Promise<void> {
    const event = await this.o.stores.transaction((tx) => this.record(tx, type, facts));
    this.committed(event);
  }

  /** Newest first (oldest first when following with `after`). */
  list(query: AuditQuery): Promise<AuditEventRecord[]> {
    return this.o.stores.audit.list(query);
  }

  /** Deletes events older than `before` (the store does it in batches). */
  purge(before: number): Promise<number> {
    return this.o.stores.audit.purge(before);
  }

  /** Runs `work` and the event it records in one transaction. */
  async inTransaction<T>(
    work: (tx: TransactionStores, record: (type: AuditType, facts?: AuditFacts) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    const events: AuditEventRecord[] = [];
    const result = await this.o.stores.transaction(async (tx) => {
      events.length = 0; // a transaction retried after a conflict records afresh
      return work(tx, async (type, facts) => {
        events.push(await this.record(tx, type, facts));
      });
    });
    for (const event of events) this.committed(event);
    return result;
  }
}
