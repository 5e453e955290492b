/**
 * The one place that listens. SIGTERM and SIGINT drain: the listener stops accepting, in-flight
 * requests finish, stores close, and the process exits 0; past the timeout it exits 1.
 */
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

  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    server.log.info({ signal }, 'shutting down: draining in-flight requests');
    const force = setTimeout(() => {
      server.log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    // close() stops accepting and drops idle keep-alive connections once; a connection whose
    // request was in flight goes idle later and would hold the process open, so keep sweeping.
    const sweep = setInterval(() => server.server.closeIdleConnections(), 50);
    sweep.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);

  await server.listen({ host: config.host, port: config.port });
  return server;
}
