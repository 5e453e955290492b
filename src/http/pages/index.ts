/**
 * The hosted pages: server-rendered HTML that works without script, on the cookie session and
 * the same core as the API. Forms post as application/x-www-form-urlencoded, accepted here
 * only (the API stays JSON); any failure a form does not show itself becomes an HTML page.
 */
import formBody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../../errors.js';
import type { Services } from '../services.js';
import { accountPages } from './account-page.js';
import { errorSummary } from './forms.js';
import { html } from './html.js';
import { linkPages } from './link-pages.js';
import { createPageKit } from './page-kit.js';
import { registerPasskeyScript } from './passkey-script.js';
import { sessionPages } from './session-pages.js';
import { signInPages } from './sign-in-pages.js';
import { ENGLISH, LANGUAGES, stringsFor } from './strings.js';
import { registerStylesheet } from './stylesheet.js';

export const pages: FastifyPluginAsyncTypebox<Services> = async (app, services) => {
  const { config } = services;
  await app.register(formBody, { bodyLimit: config.bodyLimitBytes });
  let strings = stringsFor(config.browser.pagesLanguage);
  if (strings === undefined) {
    app.log.warn(
      { language: config.browser.pagesLanguage, available: LANGUAGES },
      'PAGES_LANGUAGE has no translation yet; the pages are in English',
    );
    strings = ENGLISH;
  }
  const kit = createPageKit(services, strings);
  const problemStrings = strings;

  app.setErrorHandler((error, request, reply) => {
    const failure = kit.asAppError(error);
    if (failure.status >= 500) request.log.error({ err: error }, failure.message);
    if (failure.retryAfterSeconds !== undefined) reply.header('retry-after', String(failure.retryAfterSeconds));
    const shown = failure.code === 'csrf_failed' ? new AppError('csrf_failed', problemStrings.csrfProblem) : failure;
    return kit.render(reply, {
      status: failure.status,
      title: problemStrings.problem,
      body: html`${errorSummary(problemStrings, shown)}<p><a href="/login">${problemStrings.backToSignIn}</a></p>`,
    });
  });

  registerStylesheet(app, config.browser.pagesStylesheet);
  registerPasskeyScript(app);
  signInPages(app, services, kit);
  linkPages(app, services, kit);
  accountPages(app, services, kit);
  sessionPages(app, services, kit);
};
