/** Per-address request limits on the routes that take credentials (register, login, refresh). */
import type { FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import type { RateLimit } from '../config.js';
import { tooMany } from '../core/login-throttle.js';
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
