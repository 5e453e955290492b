/**
 * Per-address limits on the routes that take credentials: every request to register and login,
 * every failed refresh.
 */
import type { FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import type { RateLimit } from '../config.js';
import { tooMany } from '../core/login-throttle.js';
import { AppError, type ErrorCode } from '../errors.js';
import type { CounterStore } from '../store/types.js';
import type { Precondition } from './endpoint.js';

export function perIpLimit(counters: CounterStore, bucket: string, limit: RateLimit, clock: Clock): Precondition {
  // request.ip honours TRUST_PROXY: X-Forwarded-For is believed only from configured proxies.
  return perKeyLimit(counters, `ip:${bucket}`, (request) => request.ip, limit, clock);
}

/** A limit per whatever `keyOf` names (an address, a resource-server client). */
export function perKeyLimit(
  counters: CounterStore,
  bucket: string,
  keyOf: (request: FastifyRequest) => string,
  limit: RateLimit,
  clock: Clock,
): Precondition {
  const windowMs = limit.windowSeconds * 1000;
  const hook = async (request: FastifyRequest) => {
    const now = clock.now();
    const window = await counters.hit(`${bucket}:${keyOf(request)}`, windowMs, now);
    if (window.count > limit.max) throw tooMany(window.resetAt - now);
  };
  return { hook, errors: ['too_many_attempts', 'unavailable'] };
}

/** Runs a request's work, counting it against its address only if it fails as `counted` says. */
export type FailureLimit = <T>(request: FastifyRequest, work: () => Promise<T>) => Promise<T>;

/**
 * A limit per address on failures only: a request whose work throws one of `counted` is counted,
 * and past the limit that failure answers 429 instead. What succeeds costs no count: a whole
 * office or carrier may share one address, so what succeeds is bounded elsewhere (refresh: per
 * session, in its rotation).
 */
export function perIpFailureLimit(
  counters: CounterStore,
  bucket: string,
  limit: RateLimit,
  clock: Clock,
  counted: readonly ErrorCode[],
): FailureLimit {
  const windowMs = limit.windowSeconds * 1000;
  return async (request, work) => {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof AppError) || !counted.includes(error.code)) throw error;
      const now = clock.now();
      const window = await counters.hit(`ip:${bucket}:${request.ip}`, windowMs, now);
      throw window.count > limit.max ? tooMany(window.resetAt - now) : error;
    }
  };
}
