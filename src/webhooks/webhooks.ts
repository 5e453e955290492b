/**
 * Webhooks: each audit event an endpoint subscribed to becomes an outbox job in the event's own
 * transaction, and the outbox worker delivers it signed per Standard Webhooks (webhook-id,
 * webhook-timestamp, webhook-signature: v1,base64 HMAC-SHA256 of `id.timestamp.body`). At least
 * once, retried with backoff for a day, one delivery of an entry at a time (the outbox lease),
 * never in the request that caused it.
 */
import { createHmac } from 'node:crypto';
import type { WebhookEndpoint } from '../config-parsers.js';
import type { AuditListener } from '../core/audit.js';
import type { Outbox } from '../outbox/outbox.js';
import { type OutboxHandler, PermanentFailure } from '../outbox/worker.js';
import type { AuditEventRecord } from '../store/types.js';

export const WEBHOOK_TOPIC = 'webhook';
const TIMEOUT_MS = 10_000;

/** The JSON an endpoint receives: Standard Webhooks' `{type, timestamp, data}`. */
export function webhookBody(event: AuditEventRecord): string {
  return JSON.stringify({
    type: event.type,
    timestamp: new Date(event.at).toISOString(),
    data: {
      id: event.id,
      user_id: event.userId,
      actor_id: event.actorId,
      session_id: event.sessionId,
      ip: event.ip,
      user_agent: event.userAgent,
      ...(event.data ?? {}),
    },
  });
}

export function signature(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export function webhookListener(endpoints: readonly WebhookEndpoint[], outbox: Outbox): AuditListener {
  return {
    async inTransaction(tx, event) {
      for (const endpoint of endpoints) {
        if (endpoint.types !== '*' && !endpoint.types.includes(event.type)) continue;
        await outbox.job(tx, WEBHOOK_TOPIC, { url: endpoint.url, id: event.id, body: webhookBody(event) });
      }
    },
    recorded: () => outbox.committed(),
  };
}

/** The worker's handler: one signed POST; any answer but 2xx is retried. */
export function webhookDelivery(endpoints: readonly WebhookEndpoint[], now: () => number): OutboxHandler {
  return async (payload) => {
    const job = payload as { url?: string; id?: string; body?: string };
    const endpoint = endpoints.find((e) => e.url === job.url);
    if (!endpoint || job.id === undefined || job.body === undefined) {
      throw new PermanentFailure(`no webhook endpoint ${job.url} is configured any more`);
    }
    // Signed afresh on each try: receivers refuse timestamps more than a few minutes old.
    const timestamp = Math.floor(now() / 1000);
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Tessera-Webhooks',
        'webhook-id': job.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature(endpoint.key, job.id, timestamp, job.body),
      },
      body: job.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (response.status < 200 || response.status >= 300) throw new Error(`${endpoint.url} answered ${response.status}`);
    return 'done';
  };
}
