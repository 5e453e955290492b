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

/** The counter of a request's address in `bucket`: request.ip honours TRUST_PROXY (X-Forwarded-For only from configured proxies). */
const addressKey = (bucket: string, request: FastifyRequest) => `ip:${bucket}:${request.ip}`;

/**
 * Counts one request against `key`'s window: the 429 to answer once past the limit, or
 * undefined. The one way every limit here counts.
 */
async function countAgainst(
  counters: CounterStore,
  key: string,
  limit: RateLimit,
  clock: Clock,
): Promise<AppError | undefined> {
  const now = clock.now();
  const window = await counters.hit(key, limit.windowSeconds * 1000, now);
  return window.count > limit.max ? tooMany(window.resetAt - now) : undefined;
}

/** A limit on every request, per the counter `keyOf` names. */
function limitBy(
  counters: CounterStore,
  keyOf: (request: FastifyRequest) => string,
  limit: RateLimit,
  clock: Clock,
): Precondition {
  const hook = async (request: FastifyRequest) => {
    const over = await countAgainst(counters, keyOf(request), limit, clock);
    if (over) throw over;
  };
  return { hook, errors: LIMIT_ERRORS };
}

export function perIpLimit(counters: CounterStore, bucket: string, limit: RateLimit, clock: Clock): Precondition {
  return limitBy(counters, (request) => addressKey(bucket, request), limit, clock);
}

/** A limit per whatever `keyOf` names (a resource-server client). */
export function perKeyLimit(
  counters: CounterStore,
  bucket: string,
  keyOf: (request: FastifyRequest) => string,
  limit: RateLimit,
  clock: Clock,
): Precondition {
  return limitBy(counters, (request) => `${bucket}:${keyOf(request)}`, limit, clock);
}

/** The errors a limit answers with, for the route's documented answers. */
const LIMIT_ERRORS: readonly ErrorCode[] = ['too_many_attempts', 'unavailable'];

export interface FailureLimit {
  /** Runs a request's work, counting it against its address only if it fails as `counted` says. */
  run<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T>;
  /** What the limit itself may answer, beside the work's own errors. */
  readonly errors: readonly ErrorCode[];
}

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
  return {
    async run(request, work) {
      try {
        return await work();
      } catch (error) {
        if (!(error instanceof AppError) || !counted.includes(error.code)) throw error;
        throw (await countAgainst(counters, addressKey(bucket, request), limit, clock)) ?? error;
      }
    },
    errors: LIMIT_ERRORS,
  };
}
