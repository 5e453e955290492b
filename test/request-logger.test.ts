/**
 * Request loggers are made when a request first logs: a request that logs nothing makes none,
 * and one that logs writes lines bound to its reqId and redacted as the server's logger redacts.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { REDACTED_PATHS } from '../src/app.js';
import { AppError } from '../src/errors.js';
import { lazyRequestLoggers } from '../src/http/lazy-request-logger.js';
import { bearer, login, newCredentials, register, startApp } from './helpers.js';

function capturedLogger(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      callback();
    },
  });
  const logger = pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, stream);
  let children = 0;
  const child = logger.child;
  // Not bound: a child inherits this, and a grandchild must be the child's.
  logger.child = function (this: typeof logger, bindings, options) {
    children += 1;
    return child.call(this, bindings, options);
  } as typeof logger.child;
  return { logger, lines, children: () => children };
}

const requestLogger = (parent: FastifyBaseLogger, reqId: string) =>
  lazyRequestLoggers(parent).call({} as FastifyInstance, {} as FastifyBaseLogger, { reqId }, {}, {} as never);

describe('request loggers', () => {
  it('make no child logger until the request logs', () => {
    const { logger, children } = capturedLogger();
    const log = requestLogger(logger, 'req-1');
    assert.equal(log.level, 'info');
    log.debug('below the level: written nowhere, but the child is made to decide');
    assert.equal(children(), 1);
    const quiet = requestLogger(logger, 'req-2');
    assert.equal(quiet.level, 'info');
    assert.equal(children(), 1, 'reading the level makes no child');
  });

  it('write lines bound to the reqId, redacted like the server logger, and nest', async () => {
    const { logger, lines } = capturedLogger();
    const log = requestLogger(logger, 'req-7');
    log.error({ body: { password: 'hunter2', refresh_token: 'secret' } }, 'failed');
    log.child({ step: 'two' }).warn('nested');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(lines.length, 2);
    assert.deepEqual(
      { reqId: lines[0]?.reqId, msg: lines[0]?.msg, body: lines[0]?.body },
      { reqId: 'req-7', msg: 'failed', body: { password: '[redacted]', refresh_token: '[redacted]' } },
    );
    assert.deepEqual({ reqId: lines[1]?.reqId, step: lines[1]?.step }, { reqId: 'req-7', step: 'two' });
  });

  it('a 5xx in the app logs one error line with its reqId', async (t) => {
    let failing = false;
    const test = await startApp(t, 'sqlite', {
      wrapStores: (stores) => ({
        ...stores,
        sessions: {
          ...stores.sessions,
          rotate: (rotation, now) =>
            failing
              ? Promise.reject(new AppError('internal', 'rotation broke'))
              : stores.sessions.rotate(rotation, now),
        },
      }),
    });
    const user = newCredentials('logged');
    await register(test.app, user);
    const tokens = await login(test.app, user);
    const before = test.logs.length;
    failing = true;
    const response = await test.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: bearer(tokens.refresh_token),
    });
    assert.equal(response.statusCode, 500, response.body);
    const written = test.logs.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(written.length, 1, JSON.stringify(written));
    assert.equal(written[0]?.level, 50);
    assert.match(String(written[0]?.reqId), /^req-/);
    assert.ok(!JSON.stringify(written).includes(tokens.refresh_token), 'no token');
  });
});

describe('the server log', () => {
  it('at info, a request logs nothing, and the app logs through the server logger', async (t) => {
    const test = await startApp(t, 'sqlite');
    const before = test.logs.length;
    const response = await test.app.inject({ method: 'GET', url: '/health' });
    assert.equal(response.statusCode, 200);
    assert.equal(test.logs.length, before, test.logs.slice(before).join(''));
    test.app.log.warn({ step: 'seen' }, 'from the app');
    const written = test.logs.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      written.map(({ level, msg, step }) => ({ level, msg, step })),
      [{ level: 40, msg: 'from the app', step: 'seen' }],
    );
  });

  it('at debug, each request logs its arrival and its completion, bound to its reqId', async (t) => {
    const test = await startApp(t, 'sqlite', { env: { LOG_LEVEL: 'debug' } });
    const before = test.logs.length;
    const response = await test.app.inject({ method: 'GET', url: '/health?secret=1' });
    assert.equal(response.statusCode, 200);
    const written = test.logs.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
    // (The test helper also reads the API document through the app: its lines are not this request's.)
    const arrival = written.find((line) => (line.req as { path?: string } | undefined)?.path === '/health');
    assert.ok(arrival, JSON.stringify(written));
    assert.match(String(arrival.reqId), /^req-/);
    const own = written.filter((line) => line.reqId === arrival.reqId);
    assert.deepEqual(
      own.map(({ msg, req, res }) => ({ msg, req, res })),
      [
        { msg: 'incoming request', req: { method: 'GET', path: '/health', ip: '127.0.0.1' }, res: undefined },
        { msg: 'request completed', req: undefined, res: { statusCode: 200 } },
      ],
    );
  });
});
