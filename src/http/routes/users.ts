/** User administration for role `admin`, with the Flask app's `/users/all` paging kept. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { UserRecord } from '../../store/types.js';
import { guard, principalOf } from '../authenticate.js';
import { errors, IdParams, MessageBody, UserSummary } from '../schemas.js';
import { iso, type Services } from '../services.js';

const bearer = [{ bearerAuth: [] }];

const summary = (user: UserRecord) => ({
  id: user.id,
  username: user.username,
  email: user.email,
  roles: user.roles,
  disabled: user.disabled,
  created_at: iso(user.createdAt),
});

export const userRoutes: FastifyPluginAsyncTypebox<Services> = async (app, { accounts, sessions }) => {
  const admin = guard(sessions, { types: ['access'], role: 'admin' });

  const listSchema = {
    tags: ['users'],
    security: bearer,
    // The Flask app's defaults: page 1, three per page.
    querystring: Type.Object({
      page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
      per_page: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
    }),
    response: {
      200: Type.Object({
        users: Type.Array(UserSummary),
        page: Type.Integer(),
        per_page: Type.Integer(),
        total: Type.Integer(),
      }),
      ...errors(400, 401, 403, 503),
    },
  };
  for (const url of ['/users', '/users/all']) {
    app.get(url, { onRequest: admin, schema: { ...listSchema, summary: 'List users, a page at a time' } }, async (request) => {
      const { page, per_page } = request.query;
      const { users, total } = await accounts.list(page, per_page);
      return { users: users.map(summary), page, per_page, total };
    });
  }

  app.get(
    '/users/:id',
    {
      onRequest: admin,
      schema: {
        tags: ['users'],
        summary: 'One user',
        security: bearer,
        params: IdParams,
        response: { 200: UserSummary, ...errors(401, 403, 404, 503) },
      },
    },
    async (request) => summary(await accounts.get(request.params.id)),
  );

  app.patch(
    '/users/:id',
    {
      onRequest: admin,
      schema: {
        tags: ['users'],
        summary: "Change a user's roles or disable it; disabling ends every session at once",
        security: bearer,
        params: IdParams,
        body: Type.Object({
          roles: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 16 })),
          disabled: Type.Optional(Type.Boolean()),
        }),
        response: { 200: UserSummary, ...errors(400, 401, 403, 404, 413, 415, 503) },
      },
    },
    async (request) => {
      const { roles, disabled } = request.body;
      const patch = { ...(roles !== undefined && { roles }), ...(disabled !== undefined && { disabled }) };
      return summary(await accounts.update(principalOf(request).user, request.params.id, patch));
    },
  );

  app.delete(
    '/users/:id',
    {
      onRequest: admin,
      schema: {
        tags: ['users'],
        summary: 'Delete a user; every token of it stops at once',
        security: bearer,
        params: IdParams,
        response: { 200: MessageBody, ...errors(401, 403, 404, 503) },
      },
    },
    async (request) => {
      await accounts.remove(principalOf(request).user, request.params.id);
      return { message: 'User deleted' };
    },
  );
};
