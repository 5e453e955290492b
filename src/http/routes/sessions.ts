/** The caller's own sessions: list them, end one. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SESSION_ERRORS } from '../../core/sessions.js';
import { principalOf } from '../authenticate.js';
import { endpoint } from '../endpoint.js';
import { IdParams, MessageBody, SessionView } from '../schemas.js';
import { clientInfo, iso, type Services } from '../services.js';

export const sessionRoutes: FastifyPluginAsyncTypebox<Services> = async (app, { sessions, guard }) => {
  const signedIn = guard({ types: ['access'] });

  app.get(
    '/auth/sessions',
    endpoint({
      operationId: 'listSessions',
      tag: 'sessions',
      summary: "The caller's live sessions",
      before: [signedIn],
      answers: { 200: Type.Object({ sessions: Type.Array(SessionView) }) },
      errors: SESSION_ERRORS.list,
    }),
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
          aal: s.aal,
          amr: s.amr,
        })),
      };
    },
  );

  app.delete(
    '/auth/sessions/:id',
    endpoint({
      operationId: 'endSession',
      tag: 'sessions',
      summary: "End one of the caller's sessions (another user's id is 404, like an unknown one)",
      before: [signedIn],
      input: { params: IdParams },
      answers: { 200: MessageBody },
      errors: SESSION_ERRORS.endOwn,
    }),
    async (request) => {
      await sessions.endOwn(principalOf(request).user.id, request.params.id, clientInfo(request));
      return { message: 'Session ended' };
    },
  );
};
