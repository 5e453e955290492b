/** The public keys that verify Tessera's tokens, for services that check tokens themselves. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { endpoint } from '../endpoint.js';
import type { Services } from '../services.js';

const Jwk = Type.Object(
  {
    kid: Type.String(),
    kty: Type.String(),
    alg: Type.String(),
    use: Type.String(),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    n: Type.Optional(Type.String()),
    e: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const wellKnownRoutes: FastifyPluginAsyncTypebox<Services> = async (app, { jwks }) => {
  app.get(
    '/.well-known/jwks.json',
    endpoint({
      operationId: 'jwks',
      tag: 'keys',
      summary: 'Public signing keys (RFC 7517); empty with HS256, whose secret is never published',
      answers: { 200: Type.Object({ keys: Type.Array(Jwk) }) },
    }),
    async (_request, reply) => {
      // Keys change only by rotation, which keeps old keys published: a short cache is safe.
      reply.header('cache-control', 'public, max-age=300');
      return { keys: [...jwks()] };
    },
  );
};
