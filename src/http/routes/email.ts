/** Proving an address and recovering an account by mail (links lead to the pages in http/pages). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EMAIL_FLOW_ERRORS } from '../../core/email-flows.js';
import { principalOf } from '../authenticate.js';
import { endpoint } from '../endpoint.js';
import { bodySchemas, EmailBody, LinkTokenBody, MessageBody, NewEmailBody } from '../schemas.js';
import { clientInfo, type Services } from '../services.js';

/** One answer for every well-formed address, known or not. */
const QUEUED = 'If an account has this address, a mail is on its way.';

export const emailRoutes: FastifyPluginAsyncTypebox<Services> = async (app, services) => {
  const { emailFlows, config, guard } = services;
  const bodies = bodySchemas(config);
  const mailLimit = services.limitPerIp('mail');
  const linkLimit = services.limitPerIp('link');

  app.post(
    '/auth/verify',
    endpoint({
      operationId: 'verifyEmail',
      tag: 'email',
      summary: 'Prove an address with the token from a verification or email-change mail',
      description: 'A link works once, for its purpose only, and only the newest of its purpose for the user.',
      before: [linkLimit],
      input: { body: LinkTokenBody },
      answers: { 200: Type.Object({ message: Type.String(), purpose: Type.String() }) },
      errors: EMAIL_FLOW_ERRORS.verify,
    }),
    async (request) => {
      const purpose = await emailFlows.verify(request.body.token, clientInfo(request));
      return {
        message: purpose === 'change_email' ? 'Email address changed' : 'Email address verified',
        purpose,
      };
    },
  );

  app.post(
    '/auth/verify/resend',
    endpoint({
      operationId: 'resendVerification',
      tag: 'email',
      summary: 'Mail a new verification link; the same answer whether or not the address has an account',
      before: [mailLimit],
      input: { body: EmailBody },
      answers: { 202: MessageBody },
      errors: EMAIL_FLOW_ERRORS.request,
    }),
    async (request, reply) => {
      await emailFlows.requestVerification(request.body.email, clientInfo(request));
      return reply.code(202).send({ message: QUEUED });
    },
  );

  app.post(
    '/auth/password/forgot',
    endpoint({
      operationId: 'forgotPassword',
      tag: 'email',
      summary: 'Mail a password reset link; the same answer, status and work whether or not the address has an account',
      before: [mailLimit],
      input: { body: EmailBody },
      answers: { 202: MessageBody },
      errors: EMAIL_FLOW_ERRORS.request,
    }),
    async (request, reply) => {
      await emailFlows.requestPasswordReset(request.body.email, clientInfo(request));
      return reply.code(202).send({ message: QUEUED });
    },
  );

  app.post(
    '/auth/password/reset',
    endpoint({
      operationId: 'resetPassword',
      tag: 'email',
      summary: 'Set a new password with the token from a reset mail; every session of the user ends',
      description: 'A new password that breaks the rules is 400 and leaves the token usable.',
      before: [linkLimit],
      input: { body: bodies.resetPassword },
      answers: { 200: MessageBody },
      errors: EMAIL_FLOW_ERRORS.reset,
    }),
    async (request) => {
      await emailFlows.resetPassword(request.body.token, request.body.new_password, clientInfo(request));
      return { message: 'Password changed; every session has been signed out' };
    },
  );

  app.post(
    '/auth/email',
    endpoint({
      operationId: 'changeEmail',
      tag: 'email',
      summary: 'Change the address: a link to the new one confirms it, a notice goes to the current one',
      before: [guard({ types: ['access'], fresh: true })],
      input: { body: NewEmailBody },
      answers: { 202: MessageBody },
      errors: EMAIL_FLOW_ERRORS.changeEmail,
    }),
    async (request, reply) => {
      await emailFlows.requestEmailChange(principalOf(request), request.body.new_email);
      return reply.code(202).send({ message: 'A confirmation link was mailed to the new address.' });
    },
  );
};
