/** Passkeys: add one to the account, list, rename and remove them, and sign in with one. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { PASSKEY_ERRORS, PASSKEY_NAME_MAX } from '../../core/passkeys.js';
import type { PasskeyRecord } from '../../store/types.js';
import { principalOf } from '../authenticate.js';
import { endpoint } from '../endpoint.js';
import { MessageBody } from '../schemas.js';
import { clientInfo, emptyBodyAsObject, iso, type Services } from '../services.js';
import { AuthenticationResponse, CreationOptions, RegistrationResponse, RequestOptions } from '../webauthn-schemas.js';
import { CookieLoginAnswer, LoginAnswer, loginAnswer, Transport } from './token-answers.js';

const PasskeyParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 1400 }) });
const Name = Type.String({ minLength: 1, maxLength: PASSKEY_NAME_MAX });

export const PasskeyView = Type.Object({
  id: Type.String({ description: 'The credential id (base64url).' }),
  name: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  transports: Type.Array(Type.String()),
  backed_up: Type.Boolean({ description: 'Synced to other devices (a multi-device passkey).' }),
});

export const passkeyView = (p: PasskeyRecord) => ({
  id: p.id,
  name: p.name,
  created_at: iso(p.createdAt),
  last_used_at: p.lastUsedAt === null ? null : iso(p.lastUsedAt),
  transports: p.transports,
  backed_up: p.backedUp,
});

export const passkeyRoutes: FastifyPluginAsyncTypebox<Services> = async (app, services) => {
  const { passkeys, guard } = services;
  const fresh = guard({ types: ['access'], fresh: true });
  const signedIn = guard({ types: ['access'] });
  const freshAal2 = guard({ types: ['access'], fresh: true, aal2: true });
  const loginLimit = services.limitPerIp('login');

  app.post(
    '/auth/passkeys/register/options',
    endpoint({
      operationId: 'passkeyRegistrationOptions',
      tag: 'passkeys',
      summary: 'Creation options for adding a passkey (needs a fresh token); the challenge lives 5 minutes',
      before: [fresh],
      answers: { 200: CreationOptions },
      errors: PASSKEY_ERRORS.registerOptions,
    }),
    async (request) => ({ ...(await passkeys.registrationOptions(principalOf(request))) }),
  );

  app.post(
    '/auth/passkeys/register',
    endpoint({
      operationId: 'registerPasskey',
      tag: 'passkeys',
      summary: "Keep the passkey the authenticator made for this session's challenge",
      before: [fresh],
      input: { body: Type.Object({ response: RegistrationResponse, name: Type.Optional(Name) }) },
      answers: { 201: Type.Object({ id: Type.String(), name: Type.String(), created_at: Type.String() }) },
      errors: PASSKEY_ERRORS.register,
    }),
    async (request, reply) => {
      const passkey = await passkeys.register(
        principalOf(request),
        request.body.response,
        request.body.name,
        clientInfo(request),
      );
      return reply.code(201).send({ id: passkey.id, name: passkey.name, created_at: iso(passkey.createdAt) });
    },
  );

  app.get(
    '/auth/passkeys',
    endpoint({
      operationId: 'listPasskeys',
      tag: 'passkeys',
      summary: "The caller's passkeys",
      before: [signedIn],
      answers: { 200: Type.Object({ passkeys: Type.Array(PasskeyView) }) },
      errors: ['unavailable'],
    }),
    async (request) => ({ passkeys: (await passkeys.list(principalOf(request).user.id)).map(passkeyView) }),
  );

  app.patch(
    '/auth/passkeys/:id',
    endpoint({
      operationId: 'renamePasskey',
      tag: 'passkeys',
      summary: 'Rename one of the caller’s passkeys',
      before: [signedIn],
      input: { params: PasskeyParams, body: Type.Object({ name: Name }) },
      answers: { 200: MessageBody },
      errors: PASSKEY_ERRORS.manage,
    }),
    async (request) => {
      await passkeys.rename(principalOf(request), request.params.id, request.body.name, clientInfo(request));
      return { message: 'Passkey renamed' };
    },
  );

  app.delete(
    '/auth/passkeys/:id',
    endpoint({
      operationId: 'removePasskey',
      tag: 'passkeys',
      summary: 'Remove a passkey (needs a fresh aal 2 token); never the last way to sign in',
      before: [freshAal2],
      input: { params: PasskeyParams },
      answers: { 200: MessageBody },
      errors: PASSKEY_ERRORS.remove,
    }),
    async (request) => {
      await passkeys.remove(principalOf(request), request.params.id, clientInfo(request));
      return { message: 'Passkey removed' };
    },
  );

  app.post(
    '/auth/passkeys/login/options',
    {
      ...endpoint({
        operationId: 'passkeyLoginOptions',
        tag: 'passkeys',
        summary: 'Request options for signing in with a passkey, or for the MFA step with `mfa_token`',
        description:
          'No `username`: the browser offers the accounts its passkeys belong to (discoverable credentials). ' +
          'With one, its passkeys are allowed; an unknown one gets a stand-in, so the answer does not tell. ' +
          'With `mfa_token` (from a password login): the options for answering that step with a passkey.',
        before: [loginLimit],
        input: {
          body: Type.Object({
            username: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
            mfa_token: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
          }),
        },
        answers: { 200: RequestOptions },
        errors: PASSKEY_ERRORS.loginOptions,
      }),
      preValidation: emptyBodyAsObject,
    },
    async (request) => {
      const { username, mfa_token } = request.body;
      return {
        ...(mfa_token !== undefined
          ? await services.mfa.passkeyOptions(mfa_token)
          : await passkeys.loginOptions(username)),
      };
    },
  );

  app.post(
    '/auth/passkeys/login',
    endpoint({
      operationId: 'passkeyLogin',
      tag: 'passkeys',
      summary: 'Sign in with a passkey; answers like a login, at aal 2 with amr ["hwk"]',
      description:
        'Every failure (an unknown passkey, a used or expired challenge, another origin or rp id, a bad ' +
        'signature, a counter that went back) is one `invalid_passkey` and counts toward the login limits.',
      before: [loginLimit],
      input: { body: Type.Object({ response: AuthenticationResponse, transport: Transport }) },
      answers: { 200: Type.Union([LoginAnswer, CookieLoginAnswer]) },
      errors: PASSKEY_ERRORS.login,
    }),
    async (request, reply) => {
      const pair = await passkeys.login(request.body.response, clientInfo(request));
      return loginAnswer(reply, services.cookies, pair, request.body.transport);
    },
  );
};
