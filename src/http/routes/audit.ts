/** The audit log for role `admin`: filtered by user, type and time, newest first, by cursor. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AUDIT_TYPES } from '../../core/audit.js';
import { AppError } from '../../errors.js';
import { auditJson } from '../audit-json.js';
import { endpoint } from '../endpoint.js';
import type { Services } from '../services.js';

const AuditEvent = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  type: Type.String(),
  user_id: Type.Union([Type.String(), Type.Null()]),
  actor_id: Type.Union([Type.String(), Type.Null()], { description: 'The admin who acted, when not the user.' }),
  session_id: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  data: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
});

/** A cursor names the last event of a page: its time and id, opaque to clients. */
const encodeCursor = (at: number, id: string) => Buffer.from(JSON.stringify([at, id])).toString('base64url');
function decodeCursor(cursor: string): { at: number; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'number' && Number.isSafeInteger(at) && typeof id === 'string' && id.length <= 64)
      return { at, id };
  } catch {
    // falls through to the error below
  }
  throw new AppError('validation_failed', 'The cursor is not one this API gave.', {
    details: [{ field: 'cursor', problem: 'invalid_format' }],
  });
}

export const auditRoutes: FastifyPluginAsyncTypebox<Services> = async (app, { audit, guard }) => {
  app.get(
    '/admin/audit',
    endpoint({
      operationId: 'listAuditEvents',
      tag: 'audit',
      summary: 'Audit events, newest first, a page at a time',
      description: 'Follow `next_cursor` for older events; it is null on the last page.',
      before: [guard({ types: ['access'], role: 'admin' })],
      input: {
        querystring: Type.Object({
          user: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A user id.' })),
          type: Type.Optional(Type.Enum([...AUDIT_TYPES])),
          since: Type.Optional(Type.String({ format: 'date-time' })),
          until: Type.Optional(Type.String({ format: 'date-time' })),
          cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
        }),
      },
      answers: {
        200: Type.Object({ events: Type.Array(AuditEvent), next_cursor: Type.Union([Type.String(), Type.Null()]) }),
      },
      errors: ['unavailable'],
    }),
    async (request) => {
      const { user, type, since, until, cursor, limit } = request.query;
      // One more than asked, to know whether a next page exists.
      const events = await audit.list({
        userId: user,
        type,
        since: since === undefined ? undefined : Date.parse(since),
        until: until === undefined ? undefined : Date.parse(until),
        before: cursor === undefined ? undefined : decodeCursor(cursor),
        limit: limit + 1,
      });
      const page = events.slice(0, limit);
      const last = page.at(-1);
      return {
        events: page.map(auditJson),
        next_cursor: events.length > limit && last ? encodeCursor(last.at, last.id) : null,
      };
    },
  );
};
