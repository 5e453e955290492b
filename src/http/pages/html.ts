/**
 * Server-rendered pages: escaped by construction (every value goes through `escapeHtml`), one
 * stylesheet allowed by its hash, no script, and the headers that keep a one-time token in the
 * URL from leaking (no Referer) or the page from being framed.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { escapeHtml } from '../../escape-html.js';

const STYLE = `body{font-family:system-ui,sans-serif;line-height:1.5;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#111}
label{display:block;margin:1rem 0 .25rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem}.error{color:#b91c1c}.ok{color:#166534}`;
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** Nothing but this page's own stylesheet; forms post only here; never in a frame. */
export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

/** Marks text as already safe HTML (built from escaped parts). */
export interface Html {
  readonly html: string;
}

/** A template literal that escapes every interpolated value unless it is already Html. */
export function html(strings: TemplateStringsArray, ...values: (string | Html)[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += (typeof value === 'string' ? escapeHtml(value) : value.html) + (strings[i + 1] ?? '');
  });
  return { html: out };
}

export function sendPage(reply: FastifyReply, status: number, title: string, body: Html): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .send(
      html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><style>${{ html: STYLE }}</style></head>
<body><main><h1>${title}</h1>
${body}</main></body></html>
`.html,
    );
}
