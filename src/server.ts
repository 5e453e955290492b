/**
 * The one place that listens. SIGTERM and SIGINT drain: the listener stops accepting, in-flight
 * requests finish, stores close, and the process exits 0; past the timeout it exits 1. An
 * uncaught error drains the same way before exiting 1, rather than dropping what is in flight.
 */
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { openStores } from './store/open.js';

export async function serve(config: Config, warnings: readonly string[]): Promise<FastifyInstance> {
  let app: FastifyInstance | undefined;
  const stores = await openStores(config, {
    migrate: true,
    // Redis state changes are reported through the app's logger once it exists.
    warn: (message, context) => app?.log.warn(context ?? {}, message),
  });
  app = await buildApp({ config, stores });
  app.addHook('onClose', () => stores.close());
  for (const warning of warnings) app.log.warn(warning);
  const server = app;

  // close-with-grace: SIGTERM, SIGINT and the other terminating signals, or an uncaught error,
  // drain and exit (0, or 1 after an error); a second signal, or SHUTDOWN_TIMEOUT_MS, exits 1 at once.
  closeWithGrace(
    {
      delay: config.shutdownTimeoutMs,
      onTimeout: () => server.log.error('shutdown timed out; exiting'),
      onSecondSignal: (signal) => server.log.error({ signal }, 'second signal during shutdown; exiting'),
      onSecondError: (error) => server.log.error({ err: error }, 'error during shutdown; exiting'),
    },
    async ({ signal, err }) => {
      if (err) server.log.error({ err }, 'uncaught error: draining in-flight requests, then exiting');
      else server.log.info({ signal }, 'shutting down: draining in-flight requests');
      // close() stops accepting and drops idle keep-alive connections once; a connection whose
      // request was in flight goes idle later and would hold the process open, so keep sweeping.
      const sweep = setInterval(() => server.server.closeIdleConnections(), 50);
      sweep.unref();
      await server.close();
    },
  );

  if (config.metrics && server.metrics) {
    // Its own listener, so a scrape port is never the API's and the API never serves metrics.
    const { listenForScrapes } = await import('./metrics/metrics.js');
    const scrapes = await listenForScrapes(server.metrics.registry, config.metrics.host, config.metrics.port);
    server.addHook('onClose', () => new Promise<void>((resolve) => scrapes.close(() => resolve())));
    server.log.info({ host: config.metrics.host, port: config.metrics.port }, 'metrics listening');
  }
  await server.listen({ host: config.host, port: config.port });
  return server;
}
