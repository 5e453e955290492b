/**
 * The pages' HTML: escaped by construction (every interpolated value goes through `escapeHtml`
 * unless it is already Html), one layout, and the headers that keep a one-time token in a URL
 * from leaking (no Referer) and the page from being framed.
 */
import type { FastifyReply } from 'fastify';
import { escapeHtml } from '../../escape-html.js';
import type { PageStrings } from './strings.js';

/** Marks text as already safe HTML (built from escaped parts). */
export interface Html {
  readonly html: string;
}

export type HtmlValue = string | Html | readonly Html[];

/** A template literal that escapes every interpolated value unless it is already Html. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    const text =
      typeof value === 'string' ? escapeHtml(value) : 'html' in value ? value.html : value.map((v) => v.html).join('');
    out += text + (strings[i + 1] ?? '');
  });
  return { html: out };
}

/** Trusted markup made by our own code (the QR code's SVG), never from input. */
export const trusted = (markup: string): Html => ({ html: markup });

export const STYLESHEET_PATH = '/pages/style.css';

export const SCRIPT_PATH = '/pages/passkeys.js';

/**
 * Nothing but our own stylesheet; no script, except our one script file on the pages with a
 * passkey ceremony (never inline script or eval); forms post only here or to a trusted origin
 * (a redirect after a form counts as its action in browsers); never in a frame.
 */
export function pageCsp(formTargets: readonly string[], script: boolean): string {
  return [
    "default-src 'self'",
    script ? "script-src 'self'" : "script-src 'none'",
    "img-src 'self' data:",
    `form-action 'self' ${formTargets.join(' ')}`.trim(),
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
}

export interface Layout {
  strings: PageStrings;
  /** The two policies, made once: for the pages that run the passkey script, and for all others. */
  csp: { readonly script: string; readonly none: string };
}

export interface PageContent {
  status: number;
  title: string;
  body: Html;
  /** Loads the passkey script (pages with a passkey ceremony); every other page runs none. */
  script?: boolean;
  /** The signed-in user's name and a sign-out form's CSRF token, for the header. */
  signedIn?: { username: string; csrfToken: string };
}

export function sendPage(reply: FastifyReply, layout: Layout, page: PageContent): FastifyReply {
  const { strings } = layout;
  const nav = page.signedIn
    ? html`<nav aria-label="${strings.account}"><span>${strings.signedInAs(page.signedIn.username)}</span>
<a href="/account">${strings.account}</a>
<form method="post" action="/auth/sign-out" class="inline"><input type="hidden" name="csrf_token" value="${page.signedIn.csrfToken}"><button type="submit" class="link">${strings.signOut}</button></form></nav>`
    : html``;
  return reply
    .code(page.status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', page.script ? layout.csp.script : layout.csp.none)
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .send(
      html`<!doctype html>
<html lang="${strings.lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · ${strings.product}</title><link rel="stylesheet" href="${STYLESHEET_PATH}">${
        page.script ? html`<script src="${SCRIPT_PATH}" defer></script>` : html``
      }</head>
<body><header class="site"><span class="brand">${strings.product}</span>${nav}</header>
<main id="main"><h1>${page.title}</h1>
${page.body}</main></body></html>
`.html,
    );
}
