/**
 * For a team's own services (resource servers), authenticated by HTTP Basic with a client made
 * by `tessera client create`: token introspection (RFC 7662) and a Server-Sent Events feed of
 * whom revocations concern, resumable from a cursor.
 */
import formBody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { FeedStep } from '../../core/resource-servers.js';
import { AppError } from '../../errors.js';
import type { ApiClientRecord } from '../../store/types.js';
import { endpoint, type Precondition, type SecurityRequirement } from '../endpoint.js';
import type { Services } from '../services.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiClient: ApiClientRecord | null;
  }
}

const BASIC: readonly SecurityRequirement[] = [{ basicAuth: [] }];
const BASIC_HEADER = /^Basic +([A-Za-z0-9+/=]+) *$/i;
const POLL_MS = 250;
const HEARTBEAT_MS = 15_000;

const Introspection = Type.Union([
  Type.Object({ active: Type.Literal(false) }, { description: 'Revoked, expired, ended, foreign or malformed.' }),
  Type.Object({
    active: Type.Literal(true),
    token_type: Type.Literal('access'),
    sub: Type.String(),
    sid: Type.String(),
    jti: Type.String(),
    iss: Type.String(),
    iat: Type.Integer(),
    exp: Type.Integer(),
    username: Type.String(),
    roles: Type.Array(Type.String()),
    scope: Type.String({ description: 'The roles, space-separated.' }),
    aal: Type.Integer(),
    amr: Type.Array(Type.String()),
    client_id: Type.String(),
  }),
]);

function clientOf(request: FastifyRequest): ApiClientRecord {
  if (!request.apiClient) throw new AppError('internal', 'Route is missing its client check.');
  return request.apiClient;
}

export const resourceServerRoutes: FastifyPluginAsyncTypebox<Services> = async (app, services) => {
  const { resourceServers, config } = services;
  // RFC 7662 posts a form; JSON is taken too.
  await app.register(formBody, { bodyLimit: config.bodyLimitBytes });
  app.decorateRequest('apiClient', null);

  const clientAuth: Precondition = {
    hook: async (request) => {
      const match = BASIC_HEADER.exec(request.headers.authorization ?? '');
      const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      const client =
        colon > 0 ? await resourceServers.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1)) : undefined;
      if (!client) throw new AppError('invalid_client', 'Authenticate with the client id and secret (HTTP Basic).');
      request.apiClient = client;
    },
    errors: ['invalid_client', 'unavailable'],
    security: BASIC,
  };
  const perClient = services.limitPerKey('client', (request) => clientOf(request).id, config.rateLimits.perClient);

  app.post(
    '/auth/introspect',
    endpoint({
      operationId: 'introspect',
      tag: 'resource servers',
      summary: 'Is this access token active? (RFC 7662)',
      description:
        'Form or JSON `token=…`. Anything but a live access token answers exactly `{"active": false}`, with no reason.',
      before: [clientAuth, perClient],
      input: {
        body: Type.Object({
          token: Type.String({ minLength: 1, maxLength: 8192 }),
          token_type_hint: Type.Optional(Type.String({ maxLength: 64 })),
        }),
      },
      answers: { 200: Introspection },
    }),
    async (request) => resourceServers.introspect(request.body.token, clientOf(request)),
  );

  // Open feeds end before the server closes, or shutdown would wait for them.
  const open = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const end of open) end();
    done();
  });

  app.get(
    '/auth/revocations',
    endpoint({
      operationId: 'followRevocations',
      tag: 'resource servers',
      summary: 'Server-Sent Events: whom revocations concern, from a cursor on',
      description:
        'Events: `ready` `{cursor}`; `revoked` `{cursor, subjects}` where subjects are ended session ids and revoked ' +
        'token ids (refuse their tokens) and user ids (re-check their tokens issued before now); `reset` `{cursor}` when the cursor is older than the ' +
        'log: re-check every token held by introspection. Resume with `Last-Event-ID` or `?cursor=`.',
      before: [clientAuth, perClient],
      input: { querystring: Type.Object({ cursor: Type.Optional(Type.Integer({ minimum: 0 })) }) },
      answers: { 200: Type.String({ description: 'text/event-stream' }) },
    }),
    async (request, reply) => {
      const lastEventId = request.headers['last-event-id'];
      const resumeFrom =
        typeof lastEventId === 'string' && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : request.query.cursor;
      let cursor = resumeFrom ?? (await resourceServers.feedPosition());
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      const send = (event: string, data: unknown) =>
        raw.write(`event: ${event}\nid: ${cursor}\ndata: ${JSON.stringify(data)}\n\n`);
      raw.write('retry: 1000\n\n');
      send('ready', { cursor });
      let busy = false;
      let quietFor = 0;
      const tick = async () => {
        if (busy) return;
        busy = true;
        try {
          const step: FeedStep = await resourceServers.feedStep(cursor);
          cursor = step.cursor;
          if (step.kind === 'changes') send('revoked', { cursor, subjects: step.subjects });
          else if (step.kind === 'reset') send('reset', { cursor });
          quietFor = step.kind === 'none' ? quietFor + POLL_MS : 0;
          if (quietFor >= HEARTBEAT_MS) {
            raw.write(': ping\n\n');
            quietFor = 0;
          }
        } catch (error) {
          // A store that fails ends the stream; the client reconnects from its cursor.
          request.log.warn({ err: error }, 'revocation feed read failed; closing the stream');
          end();
        } finally {
          busy = false;
        }
      };
      const timer = setInterval(() => void tick(), POLL_MS);
      const end = () => {
        clearInterval(timer);
        open.delete(end);
        raw.end();
      };
      open.add(end);
      request.raw.on('close', end);
      void tick();
    },
  );
};
