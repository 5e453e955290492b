/** Second factors: enrol and confirm TOTP, list, remove, recovery codes, and the login's second step. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MFA_ERRORS, type SecondFactor } from '../../core/mfa.js';
import { AppError } from '../../errors.js';
import { principalOf } from '../authenticate.js';
import { endpoint } from '../endpoint.js';
import { MfaCode as Code, MessageBody } from '../schemas.js';
import { clientInfo, iso, type Services } from '../services.js';
import { AuthenticationResponse } from '../webauthn-schemas.js';
import { CookieLoginAnswer, LoginAnswer, loginAnswer, Transport } from './token-answers.js';

const FactorParams = Type.Object({ factor_id: Type.String({ minLength: 1, maxLength: 64 }) });
const RecoveryCodes = Type.Object({
  recovery_codes: Type.Array(Type.String(), { description: 'Ten single-use codes; shown once, stored only hashed.' }),
});

export const mfaRoutes: FastifyPluginAsyncTypebox<Services> = async (app, services) => {
  const { mfa, guard } = services;
  const fresh = guard({ types: ['access'], fresh: true });
  const signedIn = guard({ types: ['access'] });
  const freshAal2 = guard({ types: ['access'], fresh: true, aal2: true });

  app.post(
    '/auth/mfa/totp',
    endpoint({
      operationId: 'enrolTotp',
      tag: 'mfa',
      summary: 'Start enrolling an authenticator app (TOTP); pending until a code confirms it',
      before: [fresh],
      answers: {
        201: Type.Object({
          factor_id: Type.String(),
          secret: Type.String({ description: 'Base32, for typing into the app by hand.' }),
          otpauth_uri: Type.String({
            description: 'otpauth://totp/<issuer>:<username>?secret=…&issuer=… (SHA1, 6 digits, 30 s)',
          }),
          qr_svg: Type.String({ description: 'The URI as an SVG QR code.' }),
        }),
      },
      errors: MFA_ERRORS.enrol,
    }),
    async (request, reply) => {
      const enrolment = await mfa.enrolTotp(principalOf(request).user);
      return reply.code(201).send({
        factor_id: enrolment.factorId,
        secret: enrolment.secret,
        otpauth_uri: enrolment.otpauthUri,
        qr_svg: enrolment.qrSvg,
      });
    },
  );

  app.post(
    '/auth/mfa/totp/:factor_id/confirm',
    endpoint({
      operationId: 'confirmTotp',
      tag: 'mfa',
      summary: 'Confirm a pending factor with a code from it; answers ten recovery codes, once',
      before: [signedIn],
      input: { params: FactorParams, body: Type.Object({ code: Code }) },
      answers: { 200: RecoveryCodes },
      errors: MFA_ERRORS.confirm,
    }),
    async (request) => ({
      recovery_codes: await mfa.confirmTotp(
        principalOf(request).user,
        request.params.factor_id,
        request.body.code,
        clientInfo(request),
      ),
    }),
  );

  app.get(
    '/auth/mfa',
    endpoint({
      operationId: 'listMfa',
      tag: 'mfa',
      summary: "The caller's second factors and how many recovery codes are left",
      before: [signedIn],
      answers: {
        200: Type.Object({
          factors: Type.Array(
            Type.Object({
              id: Type.String(),
              type: Type.Literal('totp'),
              status: Type.Union([Type.Literal('pending'), Type.Literal('confirmed')]),
              created_at: Type.String({ format: 'date-time' }),
              last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
            }),
          ),
          recovery_codes_left: Type.Integer(),
        }),
      },
      errors: MFA_ERRORS.manage,
    }),
    async (request) => {
      const { factors, recoveryCodesLeft } = await mfa.list(principalOf(request).user.id);
      return {
        factors: factors.map((f) => ({
          id: f.id,
          type: f.type,
          status: f.status,
          created_at: iso(f.createdAt),
          last_used_at: f.lastUsedAt === null ? null : iso(f.lastUsedAt),
        })),
        recovery_codes_left: recoveryCodesLeft,
      };
    },
  );

  app.delete(
    '/auth/mfa/totp/:factor_id',
    endpoint({
      operationId: 'removeTotp',
      tag: 'mfa',
      summary: 'Remove a factor (needs a fresh aal 2 token); removing the last one ends the other sessions',
      before: [freshAal2],
      input: { params: FactorParams },
      answers: { 200: MessageBody },
      errors: MFA_ERRORS.manage,
    }),
    async (request) => {
      await mfa.removeFactor(principalOf(request), request.params.factor_id, clientInfo(request));
      return { message: 'Factor removed' };
    },
  );

  app.post(
    '/auth/mfa/recovery_codes',
    endpoint({
      operationId: 'regenerateRecoveryCodes',
      tag: 'mfa',
      summary: 'Replace every recovery code with ten new ones (needs a fresh aal 2 token)',
      before: [freshAal2],
      answers: { 200: RecoveryCodes },
      errors: MFA_ERRORS.manage,
    }),
    async (request) => ({ recovery_codes: await mfa.regenerateRecoveryCodes(principalOf(request).user) }),
  );

  app.post(
    '/auth/mfa/verify',
    endpoint({
      operationId: 'verifyMfa',
      tag: 'mfa',
      summary:
        "A login's second step: the mfa_token with a TOTP code, a recovery code or a passkey; answers like a login",
      description:
        'The mfa_token is single-use, lives 5 minutes and dies after 5 wrong codes; wrong codes count toward the ' +
        'login-failure limits. A code is accepted once, ever. The session opens at aal 2. For a passkey, get ' +
        'options from POST /auth/passkeys/login/options with the mfa_token and send `passkey_response`.',
      before: [services.limitPerIp('login')],
      input: {
        body: Type.Object({
          mfa_token: Type.String({ minLength: 1, maxLength: 128 }),
          code: Type.Optional(Code),
          recovery_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          passkey_response: Type.Optional(AuthenticationResponse),
          transport: Transport,
        }),
      },
      answers: { 200: Type.Union([LoginAnswer, CookieLoginAnswer]) },
      errors: MFA_ERRORS.verify,
    }),
    async (request, reply) => {
      const { mfa_token, code, recovery_code, passkey_response, transport } = request.body;
      const given = [
        code !== undefined && ({ field: 'code', factor: { code } } as const),
        recovery_code !== undefined && ({ field: 'recovery_code', factor: { recoveryCode: recovery_code } } as const),
        passkey_response !== undefined &&
          ({ field: 'passkey_response', factor: { passkey: passkey_response } } as const),
      ].filter((answer) => answer !== false);
      const [first, second] = given;
      if (!first || second) {
        throw new AppError('validation_failed', 'Send one of code, recovery_code or passkey_response.', {
          details: [second ? { field: second.field, problem: 'not_allowed' } : { field: 'code', problem: 'required' }],
        });
      }
      const factor: SecondFactor = first.factor;
      const pair = await mfa.verify(mfa_token, factor, clientInfo(request));
      return loginAnswer(reply, services.cookies, pair, transport);
    },
  );
};
