/** Text the pages fetch that is fixed at start (the stylesheet, the passkey script): ETag, five minutes' cache. */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export function serveStaticText(
  app: FastifyInstance,
  path: string,
  text: string,
  contentType: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  const etag = `"${createHash('sha256').update(text).digest('base64url').slice(0, 16)}"`;
  app.get(path, { schema: { hide: true } }, async (request, reply) => {
    reply.header('cache-control', 'public, max-age=300').header('etag', etag).headers(headers);
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type(contentType).send(text);
  });
}
