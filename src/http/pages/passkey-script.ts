/**
 * The pages' one script, at /pages/passkeys.js: it runs the passkey ceremonies in the browser
 * and posts their results to our forms. It is a file of its own (assets/pages/passkeys.js) so
 * the CSP can allow exactly it ('self') and no inline script; read once at start.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { SCRIPT_PATH } from './html.js';
import { serveStaticText } from './static-text.js';

// From src/http/pages and dist/http/pages alike, the project root is three levels up.
const SOURCE = new URL('../../../assets/pages/passkeys.js', import.meta.url);

export function registerPasskeyScript(app: FastifyInstance): void {
  serveStaticText(app, SCRIPT_PATH, readFileSync(SOURCE, 'utf8'), 'text/javascript; charset=utf-8', {
    'x-content-type-options': 'nosniff',
  });
}
