/**
 * The pages' one script, at /pages/passkeys.js: it runs the passkey ceremonies in the browser
 * and posts their results to our forms. It is a file of its own (assets/pages/passkeys.js) so
 * the CSP can allow exactly it ('self') and no inline script; read once at start.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { SCRIPT_PATH } from './html.js';

// From src/http/pages and dist/http/pages alike, the project root is three levels up.
const SOURCE = new URL('../../../assets/pages/passkeys.js', import.meta.url);

export function registerPasskeyScript(app: FastifyInstance): void {
  const script = readFileSync(SOURCE, 'utf8');
  const etag = `"${createHash('sha256').update(script).digest('base64url').slice(0, 16)}"`;
  app.get(SCRIPT_PATH, { schema: { hide: true } }, async (request, reply) => {
    reply.header('cache-control', 'public, max-age=300').header('etag', etag);
    reply.header('x-content-type-options', 'nosniff');
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('text/javascript; charset=utf-8').send(script);
  });
}
