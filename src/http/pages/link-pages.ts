/**
 * The pages mailed links open: /verify-email and /reset-password. A GET only shows a form (a
 * link scanner or a mail preview that fetches the link consumes nothing); the form's POST does
 * the work through the same core calls, validation and per-address limit as the JSON API.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppError } from '../../errors.js';
import { bodySchemas, LinkTokenBody } from '../schemas.js';
import { clientInfo, type Services } from '../services.js';
import { errorSummary, field, hidden, notice } from './forms.js';
import { html } from './html.js';
import { formRoute, formText, type PageApp } from './page-app.js';
import type { PageKit } from './page-kit.js';

export function linkPages(app: PageApp, services: Services, kit: PageKit): void {
  const { emailFlows, config } = services;
  const { strings } = kit;
  // A reset hashes a good new password before it looks at the token: without the limit,
  // guesses would buy argon2 work.
  const before = [kit.fromOurPages, services.limitPerIp('link').hook];
  const tokenOf = (request: FastifyRequest) => String((request.query as Record<string, unknown>).token ?? '');

  const verifyPage = (reply: FastifyReply, token: string) =>
    kit.render(reply, {
      status: 200,
      title: strings.verifyEmail,
      body: html`<form method="post" action="/verify-email">${hidden('token', token)}
<p>${strings.verifyPrompt}</p><button type="submit">${strings.verifyButton}</button></form>`,
    });

  app.get('/verify-email', { schema: { hide: true } }, async (request, reply) => verifyPage(reply, tokenOf(request)));

  app.post('/verify-email', formRoute(LinkTokenBody.properties, before), async (request, reply) => {
    const outcome = (status: number, body: ReturnType<typeof html>) =>
      kit.render(reply, { status, title: strings.verifyEmail, body });
    const invalid = kit.invalid(request);
    if (invalid) return outcome(invalid.status, html`${errorSummary(strings, invalid)}<p>${strings.verifyRetry}</p>`);
    try {
      const purpose = await emailFlows.verify(request.body.token, clientInfo(request));
      return outcome(200, notice(purpose === 'change_email' ? strings.verifyChanged : strings.verifyDone));
    } catch (error) {
      const failure = kit.expected(error, reply);
      return outcome(failure.status, html`${errorSummary(strings, failure)}<p>${strings.verifyRetry}</p>`);
    }
  });

  const resetBody = bodySchemas(config).resetPassword;
  const resetForm = (reply: FastifyReply, status: number, token: string, error?: AppError) =>
    kit.render(reply, {
      status,
      title: strings.resetPassword,
      body: html`${errorSummary(strings, error, { new_password: strings.newPassword })}
<form method="post" action="/reset-password" novalidate>${hidden('token', token)}
${field({ name: 'new_password', label: strings.newPassword, type: 'password', autocomplete: 'new-password', hint: strings.passwordHint(config.password.minLength), maxLength: config.password.maxLength }, strings, error)}
<button type="submit">${strings.resetButton}</button></form>`,
    });

  app.get('/reset-password', { schema: { hide: true } }, async (request, reply) =>
    resetForm(reply, 200, tokenOf(request)),
  );

  app.post('/reset-password', formRoute(resetBody.properties, before), async (request, reply) => {
    const token = formText(request, 'token') ?? '';
    const invalid = kit.invalid(request);
    if (invalid) return resetForm(reply, invalid.status, token, invalid);
    try {
      await emailFlows.resetPassword(request.body.token, request.body.new_password, clientInfo(request));
      return kit.render(reply, {
        status: 200,
        title: strings.resetPassword,
        body: html`${notice(strings.notices.password_reset)}<p><a href="/login">${strings.signIn}</a></p>`,
      });
    } catch (error) {
      const failure = kit.expected(error, reply);
      // A weak password leaves the link usable: the form comes back with the same token.
      if (failure.code === 'validation_failed') return resetForm(reply, failure.status, token, failure);
      return kit.render(reply, {
        status: failure.status,
        title: strings.resetPassword,
        body: errorSummary(strings, failure),
      });
    }
  });
}
