/**
 * The verifier in front of routes: a Fastify plugin (not encapsulated, like fastify-plugin) and
 * an Express middleware. Each takes the Bearer token, verifies it, puts the result on the request
 * (`request.tessera` / `req.tessera`), and answers a refusal as Tessera would: JSON
 * `{error, message}` with its status and, for 401, `WWW-Authenticate: Bearer`.
 */
import { VerifyError } from './errors.js';
import type { Requirement, VerifiedToken, Verifier } from './verifier.js';

const BEARER = /^Bearer +(\S+) *$/i;

function tokenOf(header: unknown): string {
  return typeof header === 'string' ? (BEARER.exec(header)?.[1] ?? '') : '';
}

function refusal(error: unknown): {
  status: number;
  headers: Record<string, string>;
  body: { error: string; message: string };
} {
  const failure =
    error instanceof VerifyError ? error : new VerifyError('unavailable', 'The token could not be checked.');
  return {
    status: failure.status,
    headers: failure.status === 401 ? { 'www-authenticate': `Bearer realm="tessera", error="${failure.code}"` } : {},
    body: { error: failure.code, message: failure.message },
  };
}

/** The parts of Fastify this needs, so Fastify stays an optional peer. */
interface FastifyLike {
  decorateRequest(name: string, value: unknown): unknown;
  addHook(
    name: 'onRequest',
    hook: (
      request: { headers: Record<string, unknown>; tessera?: VerifiedToken | null },
      reply: { code(status: number): { headers(h: Record<string, string>): { send(body: unknown): unknown } } },
    ) => Promise<unknown>,
  ): unknown;
}

/** `app.register(tesseraFastify(verifier, { roles: ['admin'] }))`: every route after it is protected. */
export function tesseraFastify(verifier: Verifier, requirement: Requirement = {}) {
  const plugin = async (app: FastifyLike) => {
    app.decorateRequest('tessera', null);
    app.addHook('onRequest', async (request, reply) => {
      try {
        request.tessera = await verifier.verify(tokenOf(request.headers.authorization), requirement);
      } catch (error) {
        const { status, headers, body } = refusal(error);
        return reply.code(status).headers(headers).send(body);
      }
    });
  };
  // What fastify-plugin does: the hook applies to the routes of the app that registers it.
  Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: '@tessera/verify',
  });
  return plugin;
}

interface ExpressRequest {
  headers: Record<string, unknown>;
  tessera?: VerifiedToken;
}
interface ExpressResponse {
  status(code: number): ExpressResponse;
  set(headers: Record<string, string>): ExpressResponse;
  json(body: unknown): unknown;
}

/** `app.use(tesseraExpress(verifier))`, or on one route: `app.get('/x', tesseraExpress(verifier, {aal: 2}), …)`. */
export function tesseraExpress(verifier: Verifier, requirement: Requirement = {}) {
  return (req: ExpressRequest, res: ExpressResponse, next: (error?: unknown) => void): void => {
    verifier.verify(tokenOf(req.headers.authorization), requirement).then(
      (verified) => {
        req.tessera = verified;
        next();
      },
      (error: unknown) => {
        const { status, headers, body } = refusal(error);
        res.status(status).set(headers).json(body);
      },
    );
  };
}
