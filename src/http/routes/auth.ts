/** The Flask app's /auth endpoints (paths and fields kept for its clients), plus logout and password change. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { ACCOUNT_ERRORS, type LoginIdentifier } from '../../core/accounts.js';
import { SESSION_ERRORS, TOKEN_REFUSED } from '../../core/sessions.js';
import type { Principal } from '../../core/types.js';
import { AppError } from '../../errors.js';
import { bearerToken, principalOf } from '../authenticate.js';
import { BEARER, BEARER_OR_COOKIE, endpoint } from '../endpoint.js';
import { bodySchemas, MessageBody, RefreshTokenBody, Tokens, UserDetails } from '../schemas.js';
import { clientInfo, emptyBodyAsObject, iso, type Services } from '../services.js';
import {
  CookieLoginAnswer,
  CookieTokens,
  LoginAnswer,
  loginAnswer,
  refreshAnswer,
  Transport,
  tokensBody,
} from './token-answers.js';

const WhoamiAnswer = Type.Object({ message: Type.String(), user_details: UserDetails });

/** A handler that reads the token itself (Bearer or body) answers these when there is none. */
const TOKEN_IN_HANDLER = ['authorization_required', ...SESSION_ERRORS.authenticate] as const;

export const authRoutes: FastifyPluginAsyncTypebox<Services> = async (app, services) => {
  const { accounts, sessions, config, guard, cookies, authenticator } = services;
  const bodies = bodySchemas(config);
  const registerLimit = services.limitPerIp('register');
  const loginLimit = services.limitPerIp('login');
  // Refresh tokens cannot be guessed, so only failures count against an address (see rate-limit.ts).
  const refreshFailures = services.limitFailuresPerIp('refresh', TOKEN_REFUSED);

  app.post(
    '/auth/register',
    endpoint({
      operationId: 'register',
      tag: 'auth',
      summary: 'Create an account',
      before: [registerLimit],
      input: { body: bodies.register },
      answers: { 201: Type.Object({ message: Type.String(), user_id: Type.String() }) },
      errors: ACCOUNT_ERRORS.register,
    }),
    async (request, reply) => {
      const user = await accounts.register(request.body, clientInfo(request));
      return reply.code(201).send({ message: 'User registered successfully', user_id: user.id });
    },
  );

  app.post(
    '/auth/login',
    endpoint({
      operationId: 'login',
      tag: 'auth',
      summary: 'Log in with username or email and password; opens a session',
      description:
        'Send `username` or `email` (a `username` with an `@` is taken as an email). The access token is `fresh`.',
      before: [loginLimit],
      input: { body: Type.Object({ ...bodies.login.properties, transport: Transport }) },
      answers: {
        200: Type.Union([
          LoginAnswer,
          CookieLoginAnswer,
          Type.Object(
            {
              message: Type.Literal('MFA required'),
              mfa_required: Type.Literal(true),
              mfa_token: Type.String({ description: 'For POST /auth/mfa/verify only; single-use, 5 minutes.' }),
              expires_in: Type.Integer(),
            },
            { description: 'The user has a second factor: no tokens yet.' },
          ),
        ]),
      },
      errors: ACCOUNT_ERRORS.login,
    }),
    async (request, reply) => {
      const { username, email, password, transport } = request.body;
      let identifier: LoginIdentifier;
      if (email !== undefined) identifier = { email };
      else if (username !== undefined) identifier = { username };
      else {
        throw new AppError('validation_failed', 'Send a username or an email.', {
          details: [{ field: 'username', problem: 'required' }],
        });
      }
      const result = await accounts.login(identifier, password, clientInfo(request));
      if ('mfa' in result) {
        return {
          message: 'MFA required' as const,
          mfa_required: true as const,
          mfa_token: result.mfa.mfaToken,
          expires_in: result.mfa.expiresIn,
        };
      }
      return loginAnswer(reply, cookies, result.tokens, transport);
    },
  );

  // A principal from the access cache is the same object on every request with that token:
  // its answer is built and serialized once, by the route's own serializer, and sent as JSON
  // text (the date formatting was a twentieth of a request; serializing, 8% of its instructions).
  const whoamiBodies = new WeakMap<Principal, string>();
  app.get(
    '/auth/whoami',
    endpoint({
      operationId: 'whoami',
      tag: 'auth',
      summary: 'The calling user',
      before: [guard({ types: ['access'] })],
      answers: { 200: WhoamiAnswer },
    }),
    (request, reply) => {
      const principal = principalOf(request);
      let body = whoamiBodies.get(principal);
      if (body === undefined) {
        const { user } = principal;
        const answer: Static<typeof WhoamiAnswer> = {
          message: 'Whoami successful',
          user_details: {
            id: user.id,
            username: user.username,
            email: user.email,
            roles: user.roles,
            email_verified: user.emailVerifiedAt !== null,
            created_at: iso(user.createdAt),
          },
        };
        // The route's serializer gives text (its declared type covers custom ones that may not).
        body = String(reply.serialize(answer));
        whoamiBodies.set(principal, body);
      }
      // Sent as JSON text: a reply typed by the schema takes only the object.
      const text: FastifyReply = reply;
      text.type('application/json; charset=utf-8').send(body);
    },
  );

  // GET is kept for the Flask app's clients; it takes the token as Bearer only.
  const refreshOperation = {
    tag: 'auth',
    summary: 'Trade a refresh token for a new access token and a new refresh token',
    description:
      'The refresh token comes as Bearer or as `{"refresh_token"}`. It is consumed: store the new `refresh_token` ' +
      'from the answer and use it next time. Presenting a consumed refresh token again ends the whole session, ' +
      'except within REFRESH_REUSE_INTERVAL seconds of its rotation, when the same successor is returned again. ' +
      'A session rotates at most once per REFRESH_MIN_INTERVAL_MS: sooner, the answer is a new access token and the same refresh token. ' +
      'Refused refresh tokens are counted per address (RATE_LIMIT_PER_IP a minute), then 429. ' +
      'POST also takes the refresh cookie (with the X-CSRF-Token header) and then answers with cookies.',
    security: BEARER_OR_COOKIE,
    answers: { 200: Type.Union([Tokens, CookieTokens]) },
    errors: [...TOKEN_IN_HANDLER, ...SESSION_ERRORS.refresh, ...refreshFailures.errors],
  };
  app.get(
    '/auth/refresh',
    endpoint({ ...refreshOperation, operationId: 'refreshWithGet', security: BEARER, answers: { 200: Tokens } }),
    async (request) => {
      // Bearer only: a GET that rotates a token must not be one a cross-site link can trigger.
      const token = bearerToken(request);
      if (token === undefined) throw new AppError('authorization_required', 'Send a refresh token as Bearer.');
      return tokensBody(await refreshFailures.run(request, () => sessions.refresh(token)));
    },
  );
  app.post(
    '/auth/refresh',
    {
      ...endpoint({
        ...refreshOperation,
        operationId: 'refresh',
        input: { body: Type.Object({ ...RefreshTokenBody.properties, transport: Transport }) },
        errors: [...refreshOperation.errors, 'csrf_failed'],
      }),
      preValidation: emptyBodyAsObject,
    },
    async (request, reply) => {
      const bodyToken = bearerToken(request) ?? request.body.refresh_token;
      if (bodyToken !== undefined) {
        const pair = await refreshFailures.run(request, () => sessions.refresh(bodyToken));
        return refreshAnswer(reply, cookies, pair, request.body.transport ?? 'body');
      }
      const credential = authenticator.cookieCredential(request, ['refresh']);
      if (credential === undefined) {
        throw new AppError(
          'authorization_required',
          'Send a refresh token as Bearer, as refresh_token, or as its cookie.',
        );
      }
      const pair = await refreshFailures.run(request, async () => {
        // Checked before the rotation, so a forged request rotates nothing.
        const principal = await sessions.authenticate(credential.token, ['refresh']);
        authenticator.checkCsrf(request, credential, principal.session.id);
        return sessions.refresh(credential.token);
      });
      return refreshAnswer(reply, cookies, pair, 'cookie');
    },
  );

  const revokeOperation = {
    tag: 'auth',
    summary: 'Revoke the presented token',
    description:
      "An access token: that token only. A refresh token: its whole session, so the session's access tokens stop too. " +
      'A Bearer access token with `{"refresh_token"}` in the body revokes both.',
    security: BEARER,
    answers: { 200: MessageBody },
    errors: [...TOKEN_IN_HANDLER, ...SESSION_ERRORS.revoke],
  };
  const revoke = async (request: FastifyRequest, bodyToken: string | undefined) => {
    const bearerValue = bearerToken(request);
    if (bearerValue === undefined && bodyToken === undefined) {
      throw new AppError('authorization_required', 'Send the token to revoke as Bearer or as refresh_token.');
    }
    // Verify everything first, so a bad second token leaves the first one untouched.
    const presented =
      bearerValue === undefined ? undefined : await sessions.authenticate(bearerValue, ['access', 'refresh']);
    const refreshPrincipal = bodyToken === undefined ? undefined : await sessions.authenticate(bodyToken, ['refresh']);
    const kinds = new Set<string>();
    const client = clientInfo(request);
    if (presented) kinds.add(await sessions.revoke(presented, client));
    if (refreshPrincipal) kinds.add(await sessions.revoke(refreshPrincipal, client));
    return { message: kinds.size === 2 ? 'access and refresh tokens revoked' : `${[...kinds][0]} token revoked` };
  };
  app.get('/auth/revoke_token', endpoint({ ...revokeOperation, operationId: 'revokeTokenWithGet' }), (request) =>
    revoke(request, undefined),
  );
  app.post(
    '/auth/revoke_token',
    {
      ...endpoint({ ...revokeOperation, operationId: 'revokeToken', input: { body: RefreshTokenBody } }),
      preValidation: emptyBodyAsObject,
    },
    (request) => revoke(request, request.body.refresh_token),
  );

  app.post(
    '/auth/logout',
    {
      ...endpoint({
        operationId: 'logout',
        tag: 'auth',
        summary: 'End this session, every other session, or all of them',
        before: [guard({ types: ['access', 'refresh'] })],
        input: {
          body: Type.Object({
            scope: Type.Optional(
              Type.Union([Type.Literal('local'), Type.Literal('others'), Type.Literal('global')], { default: 'local' }),
            ),
          }),
        },
        answers: { 200: Type.Object({ message: Type.String(), sessions_ended: Type.Integer() }) },
        errors: SESSION_ERRORS.logout,
      }),
      preValidation: emptyBodyAsObject,
    },
    async (request, reply) => {
      const scope = request.body.scope ?? 'local';
      const ended = await sessions.logout(principalOf(request), scope, clientInfo(request));
      // This browser's session has ended: its cookies go too.
      if (scope !== 'others' && request.headers.authorization === undefined) cookies.clear(reply);
      return { message: `Logged out (${scope})`, sessions_ended: ended };
    },
  );

  app.post(
    '/auth/password',
    endpoint({
      operationId: 'changePassword',
      tag: 'auth',
      summary: 'Change the password; ends every other session',
      before: [guard({ types: ['access'], fresh: true })],
      input: { body: bodies.changePassword },
      answers: { 200: MessageBody },
      errors: ACCOUNT_ERRORS.changePassword,
    }),
    async (request) => {
      const { current_password, new_password } = request.body;
      await accounts.changePassword(principalOf(request), current_password, new_password, clientInfo(request));
      return { message: 'Password changed' };
    },
  );
};
