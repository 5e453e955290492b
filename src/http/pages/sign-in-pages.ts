/**
 * /login (with its second step), /register and /forgot-password: the same core calls, limits
 * and validation as POST /auth/login, /auth/mfa/verify, /auth/register and /auth/password/forgot.
 * A successful sign-in sets the cookie session and goes to a trusted `return_to`, else /account.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { SecondFactor } from '../../core/mfa.js';
import type { TokenPair } from '../../core/types.js';
import type { AppError } from '../../errors.js';
import { bodySchemas, EmailBody, MfaCode } from '../schemas.js';
import { clientInfo, type Services } from '../services.js';
import { AuthenticationResponse } from '../webauthn-schemas.js';
import { errorSummary, field, hidden, notice } from './forms.js';
import { html } from './html.js';
import { formRoute, formText, jsonField, type PageApp, ReturnTo } from './page-app.js';
import type { PageKit } from './page-kit.js';
import { isNotice } from './strings.js';

interface LoginState {
  status?: number;
  error?: AppError;
  username?: string;
  returnTo?: string;
  notice?: string;
}

/** `?return_to=` carried to the next page, only when it is one we would honour. */
export const withReturn = (path: string, returnTo: string | undefined) =>
  returnTo === undefined ? path : `${path}${path.includes('?') ? '&' : '?'}return_to=${encodeURIComponent(returnTo)}`;

export function signInPages(app: PageApp, services: Services, kit: PageKit): void {
  const { accounts, mfa, passkeys, sessions, cookies, config } = services;
  const { strings } = kit;
  const bodies = bodySchemas(config);
  const { fromOurPages } = kit;

  const loginPage = async (reply: FastifyReply, request: FastifyRequest, state: LoginState) => {
    const current = await kit.session(request);
    const body = html`${notice(state.notice)}${
      current
        ? html`<p class="notice" role="status">${strings.signedInAs(current.principal.user.username)} <a href="/account">${strings.goToAccount}</a></p>`
        : html``
    }${errorSummary(strings, state.error, { username: strings.identifier, password: strings.password })}
<form method="post" action="/login" novalidate>
${hidden('return_to', state.returnTo)}
${field({ name: 'username', label: strings.identifier, autocomplete: 'username webauthn', value: state.username, maxLength: 254 }, strings, state.error)}
${field({ name: 'password', label: strings.password, type: 'password', autocomplete: 'current-password', maxLength: config.password.maxLength }, strings, state.error)}
<button type="submit">${strings.signIn}</button></form>
<form method="post" action="/login/passkey" id="passkey-sign-in" hidden data-failed="${strings.passkeyFailed}">
${hidden('return_to', state.returnTo)}<input type="hidden" name="passkey_response" value="">
<p>${strings.orPasskey}</p><button type="submit" class="secondary">${strings.signInWithPasskey}</button>
<p class="passkey-status error" aria-live="polite"></p></form>
<p><a href="${withReturn('/forgot-password', state.returnTo)}">${strings.forgotPassword}</a></p>
<p>${strings.noAccount} <a href="${withReturn('/register', state.returnTo)}">${strings.register}</a></p>`;
    return kit.render(reply, {
      status: state.status ?? 200,
      title: strings.signIn,
      body,
      script: true,
      signedIn: kit.header(current),
    });
  };

  const mfaPage = (
    reply: FastifyReply,
    status: number,
    mfaToken: string,
    returnTo: string | undefined,
    error?: AppError,
  ) =>
    kit.render(reply, {
      status,
      title: strings.mfaTitle,
      body: html`${errorSummary(strings, error, { code: strings.mfaCode, recovery_code: strings.recoveryCode })}
<form method="post" action="/login/mfa" novalidate>
${hidden('mfa_token', mfaToken)}${hidden('return_to', returnTo)}
<p>${strings.mfaPrompt}</p>
${field({ name: 'code', label: strings.mfaCode, autocomplete: 'one-time-code', inputMode: 'numeric', maxLength: 16 }, strings, error)}
<button type="submit">${strings.verify}</button></form>
<form method="post" action="/login/mfa" novalidate>
${hidden('mfa_token', mfaToken)}${hidden('return_to', returnTo)}
<p>${strings.mfaRecoveryPrompt}</p>
${field({ name: 'recovery_code', label: strings.recoveryCode, autocomplete: 'off', maxLength: 64 }, strings, undefined)}
<button type="submit" class="secondary">${strings.useRecoveryCode}</button></form>
<form method="post" action="/login/mfa" id="passkey-mfa" hidden data-failed="${strings.passkeyFailed}">
${hidden('mfa_token', mfaToken)}${hidden('return_to', returnTo)}<input type="hidden" name="passkey_response" value="">
<button type="submit" class="secondary">${strings.usePasskey}</button><p class="passkey-status error" aria-live="polite"></p></form>`,
      script: true,
    });

  /** Opens the browser session; a session this browser had before is ended, not left behind. */
  const signedIn = async (
    request: FastifyRequest,
    reply: FastifyReply,
    pair: TokenPair,
    returnTo: string | undefined,
  ) => {
    const previous = await kit.session(request);
    if (previous && previous.principal.session.id !== pair.sessionId)
      await sessions.logout(previous.principal, 'local', previous.client);
    cookies.set(reply, pair);
    return reply.redirect(returnTo ?? '/account', 303);
  };

  app.get('/login', { schema: { hide: true } }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    return loginPage(reply, request, {
      returnTo: kit.returnTo(query.return_to),
      notice: isNotice(query.notice) ? strings.notices[query.notice] : undefined,
    });
  });

  app.post(
    '/login',
    formRoute(
      {
        username: Type.String({ minLength: 1, maxLength: 254 }),
        password: bodies.login.properties.password,
        return_to: ReturnTo,
      },
      [fromOurPages, services.limitPerIp('login').hook],
    ),
    async (request, reply) => {
      const returnTo = kit.returnTo(formText(request, 'return_to'));
      const username = formText(request, 'username');
      const invalid = kit.invalid(request);
      if (invalid) return loginPage(reply, request, { status: invalid.status, error: invalid, username, returnTo });
      try {
        const result = await accounts.login(
          { username: request.body.username },
          request.body.password,
          clientInfo(request),
        );
        if ('mfa' in result) return mfaPage(reply, 200, result.mfa.mfaToken, returnTo);
        return await signedIn(request, reply, result.tokens, returnTo);
      } catch (error) {
        const failure = kit.expected(error, reply);
        return loginPage(reply, request, { status: failure.status, error: failure, username, returnTo });
      }
    },
  );

  app.post(
    '/login/mfa',
    formRoute(
      {
        mfa_token: Type.String({ minLength: 1, maxLength: 128 }),
        code: Type.Optional(MfaCode),
        recovery_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        passkey_response: Type.Optional(AuthenticationResponse),
        return_to: ReturnTo,
      },
      [fromOurPages, services.limitPerIp('login').hook],
      [jsonField('passkey_response')],
    ),
    async (request, reply) => {
      const returnTo = kit.returnTo(formText(request, 'return_to'));
      const mfaToken = formText(request, 'mfa_token') ?? '';
      const invalid = kit.invalid(request);
      if (invalid) return mfaPage(reply, invalid.status, mfaToken, returnTo, invalid);
      const { code, recovery_code, passkey_response } = request.body;
      try {
        const factor: SecondFactor = passkey_response
          ? { passkey: passkey_response }
          : recovery_code
            ? { recoveryCode: recovery_code }
            : { code: code ?? '' };
        const pair = await mfa.verify(request.body.mfa_token, factor, clientInfo(request));
        return await signedIn(request, reply, pair, returnTo);
      } catch (error) {
        const failure = kit.expected(error, reply);
        // A dead challenge (expired, used, five wrong codes) sends the user back to the password.
        if (failure.code === 'invalid_token')
          return loginPage(reply, request, { status: 401, error: failure, returnTo });
        return mfaPage(reply, failure.status, mfaToken, returnTo, failure);
      }
    },
  );

  app.post(
    '/login/passkey',
    formRoute(
      { passkey_response: AuthenticationResponse, return_to: ReturnTo },
      [fromOurPages, services.limitPerIp('login').hook],
      [jsonField('passkey_response')],
    ),
    async (request, reply) => {
      const returnTo = kit.returnTo(formText(request, 'return_to'));
      const invalid = kit.invalid(request);
      if (invalid) return loginPage(reply, request, { status: invalid.status, error: invalid, returnTo });
      try {
        const pair = await passkeys.login(request.body.passkey_response, clientInfo(request));
        return await signedIn(request, reply, pair, returnTo);
      } catch (error) {
        const failure = kit.expected(error, reply);
        return loginPage(reply, request, { status: failure.status, error: failure, returnTo });
      }
    },
  );

  const registerPage = (reply: FastifyReply, state: LoginState & { email?: string }) =>
    kit.render(reply, {
      status: state.status ?? 200,
      title: strings.register,
      body: html`${errorSummary(strings, state.error, { username: strings.username, email: strings.email, password: strings.password })}
<form method="post" action="/register" novalidate>
${hidden('return_to', state.returnTo)}
${field({ name: 'username', label: strings.username, autocomplete: 'username', value: state.username, hint: strings.usernameHint, maxLength: 32 }, strings, state.error)}
${field({ name: 'email', label: strings.email, type: 'email', autocomplete: 'email', value: state.email, maxLength: 254 }, strings, state.error)}
${field({ name: 'password', label: strings.password, type: 'password', autocomplete: 'new-password', hint: strings.passwordHint(config.password.minLength), maxLength: config.password.maxLength }, strings, state.error)}
<button type="submit">${strings.register}</button></form>
<p>${strings.haveAccount} <a href="${withReturn('/login', state.returnTo)}">${strings.signIn}</a></p>`,
    });

  app.get('/register', { schema: { hide: true } }, async (request, reply) =>
    registerPage(reply, { returnTo: kit.returnTo((request.query as Record<string, unknown>).return_to) }),
  );

  app.post(
    '/register',
    formRoute({ ...bodies.register.properties, return_to: ReturnTo }, [
      fromOurPages,
      services.limitPerIp('register').hook,
    ]),
    async (request, reply) => {
      const state = {
        returnTo: kit.returnTo(formText(request, 'return_to')),
        username: formText(request, 'username'),
        email: formText(request, 'email'),
      };
      const invalid = kit.invalid(request);
      if (invalid) return registerPage(reply, { ...state, status: invalid.status, error: invalid });
      try {
        await accounts.register(request.body, clientInfo(request));
        return reply.redirect(withReturn('/login?notice=registered', state.returnTo), 303);
      } catch (error) {
        const failure = kit.expected(error, reply);
        return registerPage(reply, { ...state, status: failure.status, error: failure });
      }
    },
  );

  const forgotPage = (
    reply: FastifyReply,
    state: { status?: number; error?: AppError; sent?: boolean; email?: string },
  ) =>
    kit.render(reply, {
      status: state.status ?? 200,
      title: strings.forgotPassword,
      body: state.sent
        ? html`${notice(strings.linkSent)}<p><a href="/login">${strings.backToSignIn}</a></p>`
        : html`${errorSummary(strings, state.error, { email: strings.email })}
<form method="post" action="/forgot-password" novalidate><p>${strings.forgotPrompt}</p>
${field({ name: 'email', label: strings.email, type: 'email', autocomplete: 'email', value: state.email, maxLength: 254 }, strings, state.error)}
<button type="submit">${strings.sendLink}</button></form>
<p><a href="/login">${strings.backToSignIn}</a></p>`,
    });

  app.get('/forgot-password', { schema: { hide: true } }, async (_request, reply) => forgotPage(reply, {}));

  app.post(
    '/forgot-password',
    formRoute(EmailBody.properties, [fromOurPages, services.limitPerIp('mail').hook]),
    async (request, reply) => {
      const invalid = kit.invalid(request);
      if (invalid)
        return forgotPage(reply, { status: invalid.status, error: invalid, email: formText(request, 'email') });
      // The same page whether or not the address has an account (no enumeration).
      await services.emailFlows.requestPasswordReset(request.body.email, clientInfo(request));
      return forgotPage(reply, { sent: true });
    },
  );
}
