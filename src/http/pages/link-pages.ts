/**
 * The pages mailed links open: /verify-email and /reset-password. A GET only shows a form (a
 * link scanner or a mail preview that fetches the link consumes nothing); the form's POST does
 * the work through the same core calls as the JSON API.
 */
import formBody from '@fastify/formbody';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { AppError } from '../../errors.js';
import type { Services } from '../services.js';
import { html, sendPage } from './html.js';

interface TokenQuery {
  token?: string;
}
interface VerifyForm {
  token?: string;
}
interface ResetForm {
  token?: string;
  new_password?: string;
}

const hidden = { schema: { hide: true } };

function failure(reply: FastifyReply, title: string, error: unknown, retry: ReturnType<typeof html>): FastifyReply {
  if (!(error instanceof AppError) || error.status >= 500) throw error;
  const fields = error.details?.map((d) => `${d.field}: ${d.problem.replace(/_/g, ' ')}`).join('; ');
  return sendPage(
    reply,
    error.status,
    title,
    html`<p class="error" role="alert">${error.message}${fields ? ` (${fields})` : ''}</p>${retry}`,
  );
}

export const linkPages: FastifyPluginAsync<Services> = async (app, { emailFlows, config, limitPerIp }) => {
  // Forms post as application/x-www-form-urlencoded: accepted on these pages only, the API stays JSON.
  await app.register(formBody, { bodyLimit: config.bodyLimitBytes });
  const limit = config.password;
  // The same per-address limit as POST /auth/verify and /auth/password/reset: a reset hashes a
  // good new password before it looks at the token, so without it guesses would buy argon2 work.
  const posted = { ...hidden, onRequest: limitPerIp('link').hook };

  const verifyForm = (token: string) =>
    html`<form method="post" action="/verify-email">
<input type="hidden" name="token" value="${token}">
<p>Confirm this email address for your account.</p>
<button type="submit">Confirm my address</button></form>`;

  app.get<{ Querystring: TokenQuery }>('/verify-email', hidden, async (request, reply) =>
    sendPage(reply, 200, 'Confirm your email address', verifyForm(String(request.query.token ?? ''))),
  );
  app.post<{ Body: VerifyForm }>('/verify-email', posted, async (request, reply) => {
    const title = 'Confirm your email address';
    try {
      const purpose = await emailFlows.verify(String(request.body?.token ?? ''));
      const done =
        purpose === 'change_email' ? 'Your email address has been changed.' : 'Your email address is confirmed.';
      return sendPage(reply, 200, title, html`<p class="ok" role="status">${done}</p>`);
    } catch (error) {
      return failure(reply, title, error, html`<p>Ask for a new link from the app you signed up with.</p>`);
    }
  });

  const resetForm = (token: string) =>
    html`<form method="post" action="/reset-password">
<input type="hidden" name="token" value="${token}">
<label for="new_password">New password</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="${String(limit.minLength)}" maxlength="${String(limit.maxLength)}">
<button type="submit">Set my new password</button></form>`;

  app.get<{ Querystring: TokenQuery }>('/reset-password', hidden, async (request, reply) =>
    sendPage(reply, 200, 'Choose a new password', resetForm(String(request.query.token ?? ''))),
  );
  app.post<{ Body: ResetForm }>('/reset-password', posted, async (request, reply) => {
    const title = 'Choose a new password';
    const token = String(request.body?.token ?? '');
    try {
      await emailFlows.resetPassword(token, String(request.body?.new_password ?? ''));
      return sendPage(
        reply,
        200,
        title,
        html`<p class="ok" role="status">Your password is changed, and every session was signed out. Sign in with the new password.</p>`,
      );
    } catch (error) {
      // A weak password leaves the link usable: offer the form again with the same token.
      const again = error instanceof AppError && error.code === 'validation_failed' ? resetForm(token) : html``;
      return failure(reply, title, error, again);
    }
  });
};
