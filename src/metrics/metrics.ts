/**
 * Prometheus metrics (prom-client), in a registry of their own, served by their own listener
 * (METRICS_PORT) so they are never exposed with the API. Every label is bounded by
 * construction: routes are templates (or `unmatched`), methods and status classes come from
 * closed lists, outcomes and reasons from the code.
 */
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditListener } from '../core/audit.js';
import type { Telemetry } from '../core/telemetry.js';
import type { OutboxStore } from '../store/types.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface Metrics {
  registry: Registry;
  telemetry: Telemetry;
  audit: AuditListener;
  outboxFailed(topic: string, final: boolean): void;
  storeError(kind: 'timeout' | 'unavailable'): void;
  /** Counts and times every request by route template; call once on the app. */
  instrument(app: FastifyInstance): void;
  /** Gauges read when scraped: the hash queue and the outbox. */
  watch(sources: { hashQueue: () => number; outbox: Pick<OutboxStore, 'pendingByTopic' | 'counts'> }): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({
    name: 'tessera_http_requests_total',
    help: 'HTTP requests by route template, method and status class.',
    labelNames: ['route', 'method', 'status_class'],
    registers,
  });
  const duration = new Histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'Time from request to response, by route template and method.',
    labelNames: ['route', 'method'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const logins = new Counter({
    name: 'tessera_logins_total',
    help: 'Login outcomes: succeeded, or failed with a reason.',
    labelNames: ['outcome', 'reason'],
    registers,
  });
  const refreshes = new Counter({
    name: 'tessera_refreshes_total',
    help: 'Refresh outcomes: rotated, reused within the window (same successor), reuse detected (session ended).',
    labelNames: ['outcome'],
    registers,
  });
  const hashSeconds = new Histogram({
    name: 'tessera_password_hash_duration_seconds',
    help: 'argon2id runs, queueing excluded.',
    labelNames: ['operation'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6],
    registers,
  });
  const revocationChecks = new Counter({
    name: 'tessera_revocation_checks_total',
    help: "Where an access token's revocation state was read: cache, redis or database.",
    labelNames: ['store'],
    registers,
  });
  const storeErrors = new Counter({
    name: 'tessera_store_errors_total',
    help: 'Requests answered 503 because a store failed or timed out.',
    labelNames: ['kind'],
    registers,
  });
  const outboxFailures = new Counter({
    name: 'tessera_outbox_failures_total',
    help: 'Outbox deliveries that failed: retried (final=false) or given up (final=true).',
    labelNames: ['topic', 'final'],
    registers,
  });

  return {
    registry,
    telemetry: {
      refreshed: (outcome) => refreshes.inc({ outcome }),
      revocationChecked: (store) => revocationChecks.inc({ store }),
      hashed: (operation, seconds) => hashSeconds.observe({ operation }, seconds),
    },
    audit: {
      recorded(event) {
        if (event.type === 'login.succeeded') logins.inc({ outcome: 'succeeded', reason: 'none' });
        else if (event.type === 'login.failed') {
          logins.inc({ outcome: 'failed', reason: String(event.data?.reason ?? 'unknown') });
        }
      },
    },
    outboxFailed: (topic, final) => outboxFailures.inc({ topic, final: String(final) }),
    storeError: (kind) => storeErrors.inc({ kind }),
    instrument(app) {
      app.addHook('onResponse', (request, reply, done) => {
        const route = request.routeOptions.url ?? 'unmatched';
        const method = METHODS.has(request.method) ? request.method : 'OTHER';
        requests.inc({ route, method, status_class: `${Math.floor(reply.statusCode / 100)}xx` });
        duration.observe({ route, method }, reply.elapsedTime / 1000);
        done();
      });
    },
    watch({ hashQueue, outbox }) {
      new Gauge({
        name: 'tessera_password_hash_queue_length',
        help: 'argon2id runs waiting for a free slot (HASH_CONCURRENCY).',
        registers,
        collect() {
          this.set(hashQueue());
        },
      });
      new Gauge({
        name: 'tessera_outbox_pending',
        help: 'Outbox entries waiting to be delivered, by topic (mail, webhook, jobs).',
        labelNames: ['topic'],
        registers,
        async collect() {
          this.reset();
          for (const [topic, n] of Object.entries(await outbox.pendingByTopic())) this.set({ topic }, n);
        },
      });
      new Gauge({
        name: 'tessera_outbox_failed',
        help: 'Outbox entries given up for good and kept for inspection.',
        registers,
        async collect() {
          this.set((await outbox.counts()).failed);
        },
      });
    },
  };
}

/** The metrics listener: GET /metrics only, on its own port. */
export async function listenForScrapes(registry: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
