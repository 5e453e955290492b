/**
 * buildApp(config, stores) → a ready-to-listen Fastify instance. No port, no globals: tests build
 * one per case and call `inject`; src/server.ts alone listens.
 */

import type { Duplex } from 'node:stream';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { type DestinationStream, pino } from 'pino';
import { systemClock } from './clock.js';
import { type Core, type CoreOptions, createCore } from './core/create-core.js';
import { createCsrfTokens } from './crypto/csrf-tokens.js';
import { createAuthenticator } from './http/authenticate.js';
import { createCookieTransport } from './http/browser/cookies.js';
import { trustedOrigins } from './http/browser/origins.js';
import { registerErrorHandling } from './http/error-handler.js';
import { lazyRequestLoggers } from './http/lazy-request-logger.js';
import { pages } from './http/pages/index.js';
import { perIpFailureLimit, perIpLimit, perKeyLimit } from './http/rate-limit.js';
import { auditRoutes } from './http/routes/audit.js';
import { authRoutes } from './http/routes/auth.js';
import { emailRoutes } from './http/routes/email.js';
import { healthRoutes } from './http/routes/health.js';
import { mfaRoutes } from './http/routes/mfa.js';
import { passkeyRoutes } from './http/routes/passkeys.js';
import { resourceServerRoutes } from './http/routes/resource-servers.js';
import { sessionRoutes } from './http/routes/sessions.js';
import { userRoutes } from './http/routes/users.js';
import { wellKnownRoutes } from './http/routes/wellknown.js';
import type { Services } from './http/services.js';
import { createValidatorCompiler } from './http/validation.js';
import type { Metrics } from './metrics/metrics.js';

export interface AppOptions extends CoreOptions {
  /** Where logs go; stdout when absent. */
  logStream?: DestinationStream;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus metrics, when METRICS_PORT is set; src/server.ts serves them on that port. */
    metrics: Metrics | undefined;
  }
}

/** Never logged, wherever they appear in a logged object. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.current_password',
  '*.new_password',
  '*.refresh_token',
  '*.access_token',
  '*.passwordHash',
];

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, stores } = options;
  const logger: FastifyBaseLogger = pino(
    {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: {
        // The path without its query string: a client that puts a token in the URL must not
        // put it in our logs too. Headers and bodies are never logged.
        req: (request: FastifyRequest) => ({ method: request.method, path: request.url.split('?')[0], ip: request.ip }),
        res: (reply: FastifyReply) => ({ statusCode: reply.statusCode }),
        err: pino.stdSerializers.err,
      },
    },
    options.logStream ?? pino.destination(1),
  );
  const verbose = config.logLevel === 'debug' || config.logLevel === 'trace';
  const clock = options.clock ?? systemClock;
  // Loaded only when asked for: prom-client and its default collectors cost memory.
  const metrics = config.metrics ? (await import('./metrics/metrics.js')).createMetrics() : undefined;
  const core = await createCore({
    ...options,
    clock,
    telemetry: metrics?.telemetry,
    auditListeners: metrics ? [metrics.audit] : [],
    onOutboxFailure: metrics?.outboxFailed,
    warn: (message, context) => logger.warn(context, message),
    info: (message, context) => logger.info(context, message),
  });
  const cookies = createCookieTransport(config.browser, config.publicUrl, createCsrfTokens(config.secretKey));
  const origins = trustedOrigins(config.publicUrl, config.browser.corsOrigins);
  const authenticator = createAuthenticator(core.sessions, cookies, origins);
  const services: Services = {
    config,
    accounts: core.accounts,
    sessions: core.sessions,
    emailFlows: core.emailFlows,
    mfa: core.mfa,
    passkeys: core.passkeys,
    audit: core.audit,
    resourceServers: core.resourceServers,
    health: stores.health,
    isUnavailable: (error) => stores.isUnavailable(error),
    limitPerIp: (bucket) => perIpLimit(stores.counters, bucket, config.rateLimits.perIp, clock),
    limitFailuresPerIp: (bucket, counted) =>
      perIpFailureLimit(stores.counters, bucket, config.rateLimits.perIp, clock, counted),
    limitPerKey: (bucket, keyOf, limit) => perKeyLimit(stores.counters, bucket, keyOf, limit, clock),
    jwks: () => core.tokens.jwks(),
    guard: authenticator.guard,
    authenticator,
    cookies,
    origins,
  };

  const app = Fastify({
    // Fastify holds our logger only when it logs each request (debug, trace). Holding any, it
    // listens for every response's `finish` even when it logs nothing then: 11% of a cached whoami,
    // measured side by side (docs/BENCHMARKS.md). Requests log through ours either way (the
    // factory), and so does the app (`app.log`, below).
    loggerInstance: verbose ? logger : undefined,
    logController: new LogController({ disableRequestLogging: !verbose }),
    childLoggerFactory: lazyRequestLoggers(logger),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    // `__proto__` and `constructor` keys are dropped, so they change nothing (the contract).
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    return503OnClosing: true,
    clientErrorHandler: answerClientError,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 128 },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Without a logger Fastify's own is a silent one: its lines (listening, a failing hook) and ours
  // through `app.log` go to the server's logger instead. Plugins see it through their prototype.
  app.log = logger;

  app.decorate('metrics', metrics);
  if (metrics) {
    metrics.watch({ hashQueue: () => core.hasher.queued(), outbox: stores.outbox });
    metrics.instrument(app);
    app.addHook('onError', (_request, _reply, error, done) => {
      if (stores.isUnavailable(error))
        metrics.storeError(/timed? ?out/i.test(error.message) ? 'timeout' : 'unavailable');
      done();
    });
  }
  app.setValidatorCompiler(createValidatorCompiler());
  app.decorateRequest('principal', null);
  registerErrorHandling(app, stores.isUnavailable);
  registerJsonOnly(app);

  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cache-control', 'no-store');
    done();
  });

  if (config.browser.corsOrigins.length > 0) {
    await app.register(cors, {
      // Exact origins only: the answer names the caller's origin, never `*`, with credentials.
      origin: config.browser.corsOrigins,
      credentials: true,
      methods: ['GET', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-csrf-token'],
      maxAge: 600,
    });
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tessera',
        version: '0.1.0',
        description: 'Self-hostable JWT authentication: register, log in, rotating refresh tokens, revocation.',
        license: { name: 'MIT', url: 'https://opensource.org/license/mit' },
      },
      servers: [{ url: config.publicUrl, description: 'PUBLIC_URL' }],
      tags: [
        { name: 'auth', description: "Accounts, tokens and logout (the Flask app's paths and fields, kept)." },
        { name: 'sessions', description: "The caller's own sessions." },
        { name: 'email', description: 'Proving an address and recovering an account with mailed one-time links.' },
        { name: 'mfa', description: 'Second factors (TOTP, recovery codes) and the second step of a login.' },
        { name: 'passkeys', description: 'Passkeys (WebAuthn): adding them, and signing in with one.' },
        { name: 'users', description: 'User administration, for the `admin` role.' },
        { name: 'audit', description: 'What happened to whom, by whom and from where, for the `admin` role.' },
        {
          name: 'resource servers',
          description: "For the team's own services: token introspection and the revocation feed (HTTP Basic client).",
        },
        { name: 'health', description: 'Liveness and readiness, for load balancers.' },
        { name: 'keys', description: "Public keys for services that verify Tessera's tokens themselves." },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          basicAuth: {
            type: 'http',
            scheme: 'basic',
            description: 'A resource-server client: `tessera client create`.',
          },
          cookieAuth: {
            type: 'apiKey',
            in: 'cookie',
            name: cookies.names.access,
            description: `From \`"transport": "cookie"\`; unsafe requests also need the ${'`X-CSRF-Token`'} header.`,
          },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  await app.register(authRoutes, services);
  await app.register(sessionRoutes, services);
  await app.register(emailRoutes, services);
  await app.register(mfaRoutes, services);
  await app.register(passkeyRoutes, services);
  await app.register(pages, services);
  await app.register(userRoutes, services);
  await app.register(auditRoutes, services);
  await app.register(resourceServerRoutes, services);
  await app.register(healthRoutes, services);
  await app.register(wellKnownRoutes, services);

  startTimers(app, core, config.purgeIntervalSeconds);
  return app;
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (headers over 16 KiB, a
 * malformed request line) still get the contract's JSON error, then the connection closes.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'payload_too_large', 'The request headers are too large.']
      : [400, 'validation_failed', 'The request is not valid HTTP.'];
  const body = JSON.stringify({ error: code, message });
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-content-type-options: nosniff\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** JSON is the only body type; anything else is 415. An empty JSON body counts as no body. */
function registerJsonOnly(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parseJson = app.getDefaultJsonParser('remove', 'remove');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });
}

/** Trust the nearest `hops` proxies: the client is the address that many steps back. */
function trustHops(hops: number) {
  return (_address: string, hop: number) => hop < hops;
}

/** How often a running server looks for a key rotation made by the CLI or another instance. */
const KEY_RELOAD_MS = 10_000;

function startTimers(app: FastifyInstance, core: Core, purgeSeconds: number): void {
  const timers: NodeJS.Timeout[] = [];
  app.addHook('onReady', async () => {
    timers.push(
      setInterval(() => {
        core.purgeExpired().catch((error: unknown) => app.log.warn({ err: error }, 'purge of expired rows failed'));
      }, purgeSeconds * 1000),
      setInterval(() => {
        try {
          if (core.reloadKeysIfChanged()) app.log.info('signing keys reloaded after a rotation');
        } catch (error) {
          app.log.error({ err: error }, 'could not reload signing keys; keeping the current ones');
        }
      }, KEY_RELOAD_MS),
    );
    for (const timer of timers) timer.unref();
  });
  app.addHook('onReady', async () => core.outboxWorker.start());
  app.addHook('onClose', async () => {
    for (const timer of timers) clearInterval(timer);
    await core.outboxWorker.stop();
    core.mailTransport?.close();
  });
}
