/**
 * One place where every failure becomes the contract's JSON error. Fastify's own errors
 * (bad JSON, wrong media type, oversize body, schema validation) are mapped by code, never by
 * message text; anything unexpected is logged and answered as a bare `internal`.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { AppError, StoreUnavailableError, validationFailed } from '../errors.js';
import { fieldProblems } from './validation.js';

const TOKEN_ERRORS = new Set(['invalid_token', 'token_expired', 'token_revoked', 'fresh_token_required']);

/** `storeUnavailable` is the stores' own judgement of their errors (see EngineStores.isUnavailable). */
export function toAppError(error: unknown, storeUnavailable: (error: unknown) => boolean): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof StoreUnavailableError || storeUnavailable(error)) {
    return new AppError('unavailable', 'A data store is unavailable; try again shortly.', { cause: error });
  }
  const fastifyError = error as Partial<FastifyError> & { validationContext?: string };
  if (Array.isArray(fastifyError.validation)) {
    return validationFailed(fieldProblems(fastifyError.validation as never, fastifyError.validationContext ?? 'body'));
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'The request body is too large.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'Send the request body as application/json.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('validation_failed', 'The Content-Length header does not match the body.');
    default:
      break;
  }
  if (fastifyError.statusCode === 400 || error instanceof SyntaxError) {
    return new AppError('validation_failed', 'The request body is not valid JSON.', {
      details: [{ field: 'body', problem: 'invalid_format' }],
    });
  }
  if (fastifyError.statusCode === 413) return new AppError('payload_too_large', 'The request body is too large.');
  if (fastifyError.statusCode === 415) {
    return new AppError('unsupported_media_type', 'Send the request body as application/json.');
  }
  return new AppError('internal', 'Something went wrong on our side.', { cause: error });
}

export function sendError(reply: FastifyReply, appError: AppError): FastifyReply {
  if (appError.code === 'invalid_client') {
    reply.header('www-authenticate', 'Basic realm="tessera resource servers"');
  } else if (appError.status === 401) {
    reply.header(
      'www-authenticate',
      TOKEN_ERRORS.has(appError.code)
        ? `Bearer realm="tessera", error="invalid_token", error_description="${appError.message}"`
        : 'Bearer realm="tessera"',
    );
  }
  if (appError.retryAfterSeconds !== undefined) reply.header('retry-after', String(appError.retryAfterSeconds));
  const body: { error: string; message: string; details?: unknown } = {
    error: appError.code,
    message: appError.message,
  };
  if (appError.details) body.details = appError.details;
  return reply.code(appError.status).type('application/json').send(body);
}

/** Error and not-found handling, with a JSON 405 for a known path asked with the wrong method. */
export function registerErrorHandling(app: FastifyInstance, storeUnavailable: (error: unknown) => boolean): void {
  const routes: { pattern: RegExp; method: string }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const pattern = new RegExp(`^${route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+')}/?$`);
    for (const method of methods) routes.push({ pattern, method });
  });

  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error, storeUnavailable);
    if (appError.status >= 500) request.log.error({ err: error }, appError.message);
    return sendError(reply, appError);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendError(reply, new AppError('method_not_allowed', `${request.method} is not allowed here.`));
    }
    return sendError(reply, new AppError('not_found', 'There is nothing at this path.'));
  });
}
