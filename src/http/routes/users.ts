/** User administration for role `admin`, with the Flask app's `/users/all` paging kept. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ACCOUNT_ERRORS } from '../../core/accounts.js';
import { MFA_ERRORS } from '../../core/mfa.js';
import type { UserRecord } from '../../store/types.js';
import { principalOf } from '../authenticate.js';
import { endpoint } from '../endpoint.js';
import { IdParams, MessageBody, UserSummary } from '../schemas.js';
import { clientInfo, iso, type Services } from '../services.js';

const summary = (user: UserRecord) => ({
  id: user.id,
  username: user.username,
  email: user.email,
  roles: user.roles,
  disabled: user.disabled,
  email_verified: user.emailVerifiedAt !== null,
  created_at: iso(user.createdAt),
});

export const userRoutes: FastifyPluginAsyncTypebox<Services> = async (app, { accounts, guard, mfa }) => {
  const admin = guard({ types: ['access'], role: 'admin' });

  const listOperation = {
    tag: 'users',
    summary: 'List users, a page at a time',
    before: [admin],
    input: {
      // The Flask app's defaults: page 1, three per page.
      querystring: Type.Object({
        page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
        per_page: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
      }),
    },
    answers: {
      200: Type.Object({
        users: Type.Array(UserSummary),
        page: Type.Integer(),
        per_page: Type.Integer(),
        total: Type.Integer(),
      }),
    },
    errors: ACCOUNT_ERRORS.list,
  };
  for (const [url, operationId] of [
    ['/users', 'listUsers'],
    ['/users/all', 'listAllUsers'],
  ] as const) {
    app.get(url, endpoint({ ...listOperation, operationId }), async (request) => {
      const { page, per_page } = request.query;
      const { users, total } = await accounts.list(page, per_page);
      return { users: users.map(summary), page, per_page, total };
    });
  }

  app.get(
    '/users/:id',
    endpoint({
      operationId: 'getUser',
      tag: 'users',
      summary: 'One user',
      before: [admin],
      input: { params: IdParams },
      answers: { 200: UserSummary },
      errors: ACCOUNT_ERRORS.get,
    }),
    async (request) => summary(await accounts.get(request.params.id)),
  );

  app.patch(
    '/users/:id',
    endpoint({
      operationId: 'updateUser',
      tag: 'users',
      summary: "Change a user's roles or disable it; disabling ends every session at once",
      before: [admin],
      input: {
        params: IdParams,
        body: Type.Object({
          roles: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 16 })),
          disabled: Type.Optional(Type.Boolean()),
        }),
      },
      answers: { 200: UserSummary },
      errors: ACCOUNT_ERRORS.update,
    }),
    async (request) => {
      const { roles, disabled } = request.body;
      const patch = { ...(roles !== undefined && { roles }), ...(disabled !== undefined && { disabled }) };
      return summary(await accounts.update(principalOf(request).user, request.params.id, patch, clientInfo(request)));
    },
  );

  app.delete(
    '/users/:id',
    endpoint({
      operationId: 'deleteUser',
      tag: 'users',
      summary: 'Delete a user; every token of it stops at once',
      before: [admin],
      input: { params: IdParams },
      answers: { 200: MessageBody },
      errors: ACCOUNT_ERRORS.remove,
    }),
    async (request) => {
      await accounts.remove(principalOf(request).user, request.params.id, clientInfo(request));
      return { message: 'User deleted' };
    },
  );

  app.delete(
    '/users/:id/mfa',
    endpoint({
      operationId: 'resetUserMfa',
      tag: 'users',
      summary: "Remove a user's second factors and recovery codes; every session of the user ends",
      before: [admin],
      input: { params: IdParams },
      answers: { 200: MessageBody },
      errors: MFA_ERRORS.manage,
    }),
    async (request) => {
      await mfa.removeAll(request.params.id, principalOf(request).user.id, clientInfo(request));
      return { message: 'Second factors removed; every session of the user ended' };
    },
  );
};
