/** Liveness and readiness, for load balancers and orchestrators. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { endpoint, errorBody } from '../endpoint.js';
import type { Services } from '../services.js';

const Checks = Type.Record(Type.String(), Type.Union([Type.Literal('ok'), Type.Literal('down')]));

export const healthRoutes: FastifyPluginAsyncTypebox<Services> = async (app, { health, config }) => {
  app.get(
    '/health',
    endpoint({
      operationId: 'health',
      tag: 'health',
      summary: 'The process is up',
      answers: { 200: Type.Object({ status: Type.Literal('ok') }) },
    }),
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    endpoint({
      operationId: 'ready',
      tag: 'health',
      summary: 'Every store answers: 503 without the database, 200 "degraded" without Redis',
      answers: {
        200: Type.Object({ status: Type.Union([Type.Literal('ready'), Type.Literal('degraded')]), checks: Checks }),
        503: Type.Object({ ...errorBody(['unavailable']).properties, checks: Checks }),
      },
    }),
    async (_request, reply) => {
      const results = await Promise.all(
        health.map(async ({ name, critical, check }) => {
          const ok = await withTimeout(check(), config.storeTimeoutMs).then(
            () => true,
            () => false,
          );
          return { name, critical, state: ok ? ('ok' as const) : ('down' as const) };
        }),
      );
      const checks = Object.fromEntries(results.map((r) => [r.name, r.state]));
      const down = results.filter((r) => r.state === 'down');
      if (down.some((r) => r.critical)) {
        const names = down.filter((r) => r.critical).map((r) => r.name);
        return reply
          .code(503)
          .send({ error: 'unavailable', message: `Not ready: ${names.join(', ')} unavailable.`, checks });
      }
      return { status: down.length > 0 ? ('degraded' as const) : ('ready' as const), checks };
    },
  );
};

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
