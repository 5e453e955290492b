/**
 * Signing out and staying signed in. /logout asks before it acts (a link or an image cannot
 * sign anyone out); its form posts to /auth/sign-out, under /auth so that the refresh cookie
 * comes along and the session ends even when the access cookie has lapsed. /auth/resume renews
 * a lapsed access cookie from the refresh cookie, then goes back to a trusted `return_to`.
 */
import type { FastifyReply } from 'fastify';
import { TOKEN_REFUSED } from '../../core/sessions.js';
import type { Services } from '../services.js';
import { hidden, notice } from './forms.js';
import { html } from './html.js';
import { CsrfField, formRoute, formText, type PageApp } from './page-app.js';
import { type PageKit, sessionGone } from './page-kit.js';
import { withReturn } from './sign-in-pages.js';

export function sessionPages(app: PageApp, services: Services, kit: PageKit): void {
  const { sessions, cookies, authenticator } = services;
  const { strings } = kit;
  const refreshFailures = services.limitFailuresPerIp('refresh', TOKEN_REFUSED);

  app.get('/logout', { schema: { hide: true } }, async (request, reply) => {
    const s = await kit.session(request);
    // The CSRF cookie outlives the access cookie: it is the token for this form either way.
    const csrfToken = s?.csrfToken ?? cookies.read(request).accessCsrf;
    const body =
      csrfToken === undefined
        ? html`${notice(strings.notices.signed_out)}<p><a href="/login">${strings.signIn}</a></p>`
        : html`<form method="post" action="/auth/sign-out">${hidden('csrf_token', csrfToken)}
<p>${strings.signOutPrompt}</p><button type="submit">${strings.signOut}</button></form>
<p><a href="/account">${strings.account}</a></p>`;
    return kit.render(reply, { status: 200, title: strings.signOut, body, signedIn: kit.header(s) });
  });

  app.post('/auth/sign-out', formRoute({ csrf_token: CsrfField }, [kit.fromOurPages]), async (request, reply) => {
    // The access cookie may have lapsed; the refresh cookie, sent to /auth only, still names the session.
    const live = (await kit.session(request, ['access'])) ?? (await kit.session(request, ['refresh']));
    if (live) {
      authenticator.checkCsrf(
        request,
        live.credential,
        live.principal.session.id,
        formText(request, 'csrf_token') ?? '',
      );
      await sessions.logout(live.principal, 'local', live.client);
    }
    cookies.clear(reply);
    return reply.redirect('/login?notice=signed_out', 303);
  });

  const toLogin = (reply: FastifyReply, returnTo: string | undefined) =>
    reply.redirect(withReturn('/login', returnTo), 303);

  app.get('/auth/resume', { schema: { hide: true } }, async (request, reply) => {
    const returnTo = kit.returnTo((request.query as Record<string, unknown>).return_to);
    const credential = authenticator.cookieCredential(request, ['refresh']);
    if (!credential) return toLogin(reply, returnTo);
    try {
      // Counted per address only when refused, as its API twin POST /auth/refresh.
      cookies.set(reply, await refreshFailures.run(request, () => sessions.refresh(credential.token)));
      return reply.redirect(returnTo ?? '/account', 303);
    } catch (error) {
      if (!sessionGone(error)) throw error;
      cookies.clear(reply);
      return toLogin(reply, returnTo);
    }
  });
}
