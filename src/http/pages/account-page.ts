/**
 * /account: profile, password and email changes, live sessions with "end" buttons, and the
 * authenticator app (enrol with its QR code, recovery codes, removal). Every form posts with
 * the session's CSRF token, meets the same requirement as its API twin (fresh, aal 2), and
 * calls the same core operation.
 */
import type { FastifyReply, onRequestHookHandler, preValidationHookHandler } from 'fastify';
import { type Static, type TObject, Type } from 'typebox';
import { PASSKEY_NAME_MAX } from '../../core/passkeys.js';
import { AppError } from '../../errors.js';
import type { Requirement } from '../authenticate.js';
import { bodySchemas, MfaCode, NewEmailBody } from '../schemas.js';
import type { Services } from '../services.js';
import { RegistrationResponse } from '../webauthn-schemas.js';
import { errorSummary, field, hidden, notice } from './forms.js';
import { type Html, html, trusted } from './html.js';
import { CsrfField, formRoute, formText, jsonField, type PageApp } from './page-app.js';
import type { PageKit, PageSession } from './page-kit.js';
import { addPasskeyPage, passkeySection } from './passkey-pages.js';
import { withReturn } from './sign-in-pages.js';
import { isNotice, type NoticeKey } from './strings.js';

const SIGNED_IN: Requirement = { types: ['access'] };
const FRESH: Requirement = { types: ['access'], fresh: true };
const FRESH_AAL2: Requirement = { types: ['access'], fresh: true, aal2: true };
const IdField = Type.String({ minLength: 1, maxLength: 64 });
const PasskeyIdField = Type.String({ minLength: 1, maxLength: 1400 });
const PasskeyName = Type.String({ minLength: 1, maxLength: PASSKEY_NAME_MAX });

interface AccountState {
  status?: number;
  error?: AppError;
  notice?: NoticeKey;
}

export function accountPages(app: PageApp, services: Services, kit: PageKit): void {
  const { accounts, sessions, mfa, passkeys, emailFlows, config } = services;
  const { strings } = kit;
  const bodies = bodySchemas(config);
  const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const dateTime = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const csrf = (s: PageSession) => hidden('csrf_token', s.csrfToken);
  const signIn = (reply: FastifyReply) => reply.redirect(withReturn('/login', '/account'), 303);

  /** A form that posts one action with the session's CSRF token. */
  const action = (s: PageSession, path: string, label: string, fields: Html = html``, style = 'secondary') =>
    html`<form method="post" action="${path}" class="inline">${csrf(s)}${fields}<button type="submit" class="${style}">${label}</button></form>`;

  const accountPage = async (reply: FastifyReply, s: PageSession, state: AccountState = {}) => {
    const { user, session: current } = s.principal;
    const [live, factors, keys] = await Promise.all([
      sessions.list(user.id),
      mfa.list(user.id),
      passkeys.list(user.id),
    ]);
    const confirmed = factors.factors.find((f) => f.status === 'confirmed');
    const error = state.error;
    const reauth =
      error?.code === 'fresh_token_required' || error?.code === 'mfa_required'
        ? html`<p><a href="${withReturn('/login', '/account')}">${strings.signIn}</a></p>`
        : html``;
    const body = html`${notice(state.notice && strings.notices[state.notice])}${errorSummary(strings, error, {
      current_password: strings.currentPassword,
      new_password: strings.newPassword,
      new_email: strings.newEmail,
      name: strings.passkeyName,
    })}${reauth}
<section aria-labelledby="profile"><h2 id="profile">${strings.profile}</h2>
<dl><dt>${strings.username}</dt><dd>${user.username}</dd>
<dt>${strings.email}</dt><dd>${user.email} (${user.emailVerifiedAt === null ? strings.notVerified : strings.verified})</dd>
<dt>${strings.memberSince}</dt><dd>${date(user.createdAt)}</dd>${
      user.roles.length > 0 ? html`<dt>${strings.roles}</dt><dd>${user.roles.join(', ')}</dd>` : html``
    }</dl>${user.emailVerifiedAt === null ? action(s, '/account/verify-email', strings.resendVerification) : html``}</section>
<section aria-labelledby="password"><h2 id="password">${strings.changePassword}</h2><p class="hint">${strings.changePasswordNote}</p>
<form method="post" action="/account/password" novalidate>${csrf(s)}
${field({ name: 'current_password', label: strings.currentPassword, type: 'password', autocomplete: 'current-password', maxLength: config.password.maxLength }, strings, error)}
${field({ name: 'new_password', label: strings.newPassword, type: 'password', autocomplete: 'new-password', hint: strings.passwordHint(config.password.minLength), maxLength: config.password.maxLength }, strings, error)}
<button type="submit">${strings.changePassword}</button></form></section>
<section aria-labelledby="email"><h2 id="email">${strings.changeEmail}</h2><p class="hint">${strings.changeEmailNote}</p>
<form method="post" action="/account/email" novalidate>${csrf(s)}
${field({ name: 'new_email', label: strings.newEmail, type: 'email', autocomplete: 'email', maxLength: 254 }, strings, error)}
<button type="submit">${strings.changeEmail}</button></form></section>
<section aria-labelledby="sessions"><h2 id="sessions">${strings.sessions}</h2>
<table><thead><tr><th scope="col">${strings.sessionDevice}</th><th scope="col">${strings.sessionAddress}</th><th scope="col">${strings.sessionStarted}</th><th scope="col">${strings.sessionLastUsed}</th><th scope="col">${strings.sessionLevel}</th><th scope="col"><span class="visually-hidden">${strings.end}</span></th></tr></thead><tbody>${live.map(
      (row) => {
        const device = row.userAgent ?? strings.unknownDevice;
        return html`<tr><td>${device}</td><td>${row.ip ?? ''}</td><td>${dateTime(row.createdAt)}</td><td>${dateTime(row.lastUsedAt)}</td><td>${row.aal === 2 ? strings.yes : strings.no}</td><td>${
          row.id === current.id
            ? html`<strong>${strings.thisDevice}</strong>`
            : html`<form method="post" action="/account/sessions/end" class="inline">${csrf(s)}${hidden('session_id', row.id)}<button type="submit" class="secondary" aria-label="${strings.endSessionLabel(device)}">${strings.end}</button></form>`
        }</td></tr>`;
      },
    )}</tbody></table></section>
<section aria-labelledby="mfa"><h2 id="mfa">${strings.mfa}</h2>${
      confirmed
        ? html`<p>${strings.mfaOn(date(confirmed.createdAt))} ${strings.recoveryLeft(factors.recoveryCodesLeft)}</p>
${action(s, '/account/mfa/recovery-codes', strings.newRecoveryCodes)}
${action(s, '/account/mfa/remove', strings.removeMfa, hidden('factor_id', confirmed.id))}`
        : html`<p>${strings.mfaOff}</p>${action(s, '/account/mfa/enrol', strings.setUpMfa, html``, '')}`
    }</section>
${passkeySection(kit, s, keys)}`;
    return kit.render(reply, { status: state.status ?? 200, title: strings.account, body, signedIn: kit.header(s) });
  };

  app.get('/account', { schema: { hide: true } }, async (request, reply) => {
    const s = await kit.session(request);
    if (!s) {
      // The access cookie has lapsed: while the CSRF cookie (which lives as long as the refresh
      // token) is still there, the refresh cookie can renew the session on its /auth path.
      const mayResume = services.cookies.read(request).accessCsrf !== undefined;
      return reply.redirect(mayResume ? withReturn('/auth/resume', '/account') : withReturn('/login', '/account'), 303);
    }
    const query = request.query as Record<string, unknown>;
    return accountPage(reply, s, { notice: isNotice(query.notice) ? query.notice : undefined });
  });

  /**
   * An account form: the session and its CSRF token first, then the requirement of the API
   * twin, then validation, then the core. Errors come back on the account page.
   */
  const post = <P extends Parameters<typeof formRoute>[0]>(
    path: string,
    properties: P,
    requirement: Requirement,
    run: (s: PageSession, body: Static<TObject<P>>, reply: FastifyReply) => Promise<FastifyReply | NoticeKey>,
    before: onRequestHookHandler[] = [],
    preValidation: preValidationHookHandler[] = [],
  ) =>
    app.post(
      path,
      formRoute({ csrf_token: CsrfField, ...properties }, before, preValidation),
      async (request, reply) => {
        const s = await kit.postedSession(request, formText(request, 'csrf_token'));
        if (!s) return signIn(reply);
        const unmet = kit.unmet(s.principal, requirement);
        if (unmet) {
          const message = unmet.code === 'mfa_required' ? strings.reauthMfa : strings.reauth;
          return accountPage(reply, s, { status: unmet.status, error: new AppError(unmet.code, message) });
        }
        const invalid = kit.invalid(request);
        if (invalid) return accountPage(reply, s, { status: invalid.status, error: invalid });
        try {
          const outcome = await run(s, request.body as never, reply);
          return typeof outcome === 'string' ? reply.redirect(`/account?notice=${outcome}`, 303) : outcome;
        } catch (error) {
          const failure = kit.expected(error, reply);
          return accountPage(reply, s, { status: failure.status, error: failure });
        }
      },
    );

  post('/account/password', bodies.changePassword.properties, FRESH, async (s, body) => {
    await accounts.changePassword(s.principal, body.current_password ?? '', body.new_password ?? '', s.client);
    return 'password_changed';
  });

  post('/account/email', NewEmailBody.properties, FRESH, async (s, body) => {
    await emailFlows.requestEmailChange(s.principal, body.new_email ?? '');
    return 'email_change_sent';
  });

  post(
    '/account/verify-email',
    {},
    SIGNED_IN,
    async (s) => {
      await emailFlows.requestVerification(s.principal.user.email, s.client);
      return 'verification_sent';
    },
    [services.limitPerIp('mail').hook],
  );

  post('/account/sessions/end', { session_id: IdField }, SIGNED_IN, async (s, body) => {
    await sessions.endOwn(s.principal.user.id, body.session_id ?? '', s.client);
    return 'session_ended';
  });

  const enrolPage = (
    reply: FastifyReply,
    s: PageSession,
    status: number,
    factorId: string,
    secret: string,
    qr?: string,
    error?: AppError,
  ) =>
    kit.render(reply, {
      status,
      title: strings.enrolTitle,
      signedIn: kit.header(s),
      body: html`${errorSummary(strings, error, { code: strings.mfaCode })}
${qr === undefined ? html`` : html`<p>${strings.enrolScan}</p><div class="qr">${trusted(qr)}</div>`}
<p>${strings.enrolKey}: <code class="key" id="totp-secret">${secret}</code></p>
<form method="post" action="/account/mfa/confirm" novalidate>${csrf(s)}${hidden('factor_id', factorId)}${hidden('secret', secret)}
<p>${strings.enrolConfirm}</p>
${field({ name: 'code', label: strings.mfaCode, autocomplete: 'one-time-code', inputMode: 'numeric', maxLength: 16 }, strings, error)}
<button type="submit">${strings.confirm}</button></form>`,
    });

  const codesPage = (reply: FastifyReply, s: PageSession, codes: string[]) =>
    kit.render(reply, {
      status: 200,
      title: strings.recoveryTitle,
      signedIn: kit.header(s),
      body: html`<p role="status">${strings.recoveryIntro}</p><ol class="codes" id="recovery-codes">${codes.map(
        (code) => html`<li>${code}</li>`,
      )}</ol><p><a href="/account">${strings.done}</a></p>`,
    });

  post('/account/mfa/enrol', {}, FRESH, async (s, _body, reply) => {
    const enrolment = await mfa.enrolTotp(s.principal.user);
    return enrolPage(reply, s, 200, enrolment.factorId, enrolment.secret, enrolment.qrSvg);
  });

  // The key rides along in the form only to be shown again after a mistyped code; the factor
  // is checked against the stored (sealed) secret, never against this field.
  app.post(
    '/account/mfa/confirm',
    formRoute({ csrf_token: CsrfField, factor_id: IdField, code: MfaCode, secret: Type.String({ maxLength: 128 }) }),
    async (request, reply) => {
      const s = await kit.postedSession(request, formText(request, 'csrf_token'));
      if (!s) return signIn(reply);
      const factorId = formText(request, 'factor_id') ?? '';
      const secret = formText(request, 'secret') ?? '';
      const invalid = kit.invalid(request);
      if (invalid) return enrolPage(reply, s, invalid.status, factorId, secret, undefined, invalid);
      try {
        return codesPage(
          reply,
          s,
          await mfa.confirmTotp(s.principal.user, request.body.factor_id, request.body.code, s.client),
        );
      } catch (error) {
        const failure = kit.expected(error, reply);
        return enrolPage(reply, s, failure.status, factorId, secret, undefined, failure);
      }
    },
  );

  post('/account/mfa/recovery-codes', {}, FRESH_AAL2, async (s, _body, reply) =>
    codesPage(reply, s, await mfa.regenerateRecoveryCodes(s.principal.user)),
  );

  post('/account/mfa/remove', { factor_id: IdField }, FRESH_AAL2, async (s, body) => {
    await mfa.removeFactor(s.principal, body.factor_id ?? '', s.client);
    return 'mfa_removed';
  });

  post('/account/passkeys/add', {}, FRESH, async (s, _body, reply) =>
    addPasskeyPage(kit, reply, s, await passkeys.registrationOptions(s.principal)),
  );

  post(
    '/account/passkeys/register',
    { passkey_response: RegistrationResponse, name: Type.Optional(Type.String({ maxLength: PASSKEY_NAME_MAX })) },
    FRESH,
    async (s, body) => {
      await passkeys.register(s.principal, body.passkey_response, body.name, s.client);
      return 'passkey_added';
    },
    [],
    [jsonField('passkey_response')],
  );

  post('/account/passkeys/rename', { passkey_id: PasskeyIdField, name: PasskeyName }, SIGNED_IN, async (s, body) => {
    await passkeys.rename(s.principal, body.passkey_id, body.name, s.client);
    return 'passkey_renamed';
  });

  post('/account/passkeys/remove', { passkey_id: PasskeyIdField }, FRESH_AAL2, async (s, body) => {
    await passkeys.remove(s.principal, body.passkey_id, s.client);
    return 'passkey_removed';
  });
}
