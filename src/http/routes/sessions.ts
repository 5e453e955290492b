/** The caller's own sessions: list them, end one. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { guard, principalOf } from '../authenticate.js';
import { errors, IdParams, MessageBody, SessionView } from '../schemas.js';
import { iso, type Services } from '../services.js';

const bearer = [{ bearerAuth: [] }];

export const sessionRoutes: FastifyPluginAsyncTypebox<Services> = async (app, { sessions }) => {
  const signedIn = guard(sessions, { types: ['access'] });

  app.get(
    '/auth/sessions',
    {
      onRequest: signedIn,
      schema: {
        tags: ['sessions'],
        summary: "The caller's live sessions",
        security: bearer,
        response: { 200: Type.Object({ sessions: Type.Array(SessionView) }), ...errors(401, 503) },
      },
    },
    async (request) => {
      const { user, session: current } = principalOf(request);
      const live = await sessions.list(user.id);
      return {
        sessions: live.map((s) => ({
          id: s.id,
          created_at: iso(s.createdAt),
          last_used_at: iso(s.lastUsedAt),
          expires_at: iso(s.expiresAt),
          user_agent: s.userAgent,
          ip: s.ip,
          current: s.id === current.id,
        })),
      };
    },
  );

  app.delete(
    '/auth/sessions/:id',
    {
      onRequest: signedIn,
      schema: {
        tags: ['sessions'],
        summary: "End one of the caller's sessions (another user's id is 404, like an unknown one)",
        security: bearer,
        params: IdParams,
        response: { 200: MessageBody, ...errors(401, 404, 503) },
      },
    },
    async (request) => {
      await sessions.endOwn(principalOf(request).user.id, request.params.id);
      return { message: 'Session ended' };
    },
  );
};
