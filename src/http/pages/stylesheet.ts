/**
 * The pages' one stylesheet, at /pages/style.css: the built-in one, or the file PAGES_STYLESHEET
 * names, read once at start. Theming is replacing this file; the markup keeps its class names.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { STYLESHEET_PATH } from './html.js';
import { serveStaticText } from './static-text.js';

const BUILT_IN = `:root{--fg:#111;--muted:#555;--bg:#fff;--accent:#1d4ed8;--error:#b91c1c;--ok:#166534;--line:#d4d4d8}
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;line-height:1.5;color:var(--fg);background:var(--bg);margin:0}
header.site{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;justify-content:space-between;padding:.75rem 1rem;border-bottom:1px solid var(--line)}
header.site nav{display:flex;gap:1rem;align-items:center}
.brand{font-weight:700}
main{max-width:34rem;margin:2rem auto;padding:0 1rem}
h2{margin-top:2rem;font-size:1.2rem}
label{display:block;margin:1rem 0 .25rem;font-weight:600}
input{width:100%;padding:.5rem;font-size:1rem;border:1px solid #888;border-radius:.25rem}
input[aria-invalid=true]{border-color:var(--error);border-width:2px}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem;border-radius:.25rem;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
button.secondary{background:#fff;color:var(--accent)}
button.link{margin:0;padding:0;border:0;background:none;color:var(--accent);text-decoration:underline}
form.inline{display:inline;margin:0}
.hint{color:var(--muted);margin:0 0 .25rem;font-size:.9rem}
.field-error,.error{color:var(--error)}
.error-summary{border:2px solid var(--error);padding:.5rem 1rem;margin:1rem 0}
.error-summary h2{margin:.25rem 0;font-size:1rem}
.notice{border-left:4px solid var(--ok);padding:.5rem 1rem;color:var(--ok);margin:1rem 0}
table{width:100%;border-collapse:collapse;font-size:.9rem}
th,td{text-align:left;padding:.4rem;border-bottom:1px solid var(--line);vertical-align:top}
.qr svg{width:12rem;height:12rem}
code.key,ol.codes{font-family:ui-monospace,monospace;font-size:1.1rem;letter-spacing:.05em}
section{margin-top:1.5rem}
input.short{width:12rem;display:inline-block}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

export function registerStylesheet(app: FastifyInstance, file: string | undefined): void {
  const css = file === undefined ? BUILT_IN : readFileSync(file, 'utf8');
  serveStaticText(app, STYLESHEET_PATH, css, 'text/css; charset=utf-8');
}
