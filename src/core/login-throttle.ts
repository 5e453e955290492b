/**
 * Failed-login limits (OWASP ASVS 2.2.1). Failures are counted per account *and* address, so a
 * stranger elsewhere cannot lock a user out, and per account across all addresses with a larger
 * cap, so a botnet cannot guess forever. Unknown accounts are counted the same way as real ones,
 * so a 429 says nothing about whether an account exists.
 */
import type { Clock } from '../clock.js';
import type { RateLimit } from '../config.js';
import { AppError } from '../errors.js';
import type { CounterStore } from '../store/types.js';

export interface LoginLimits {
  perAccountAndIp: RateLimit;
  perAccount: RateLimit;
}

export class LoginThrottle {
  constructor(
    private readonly counters: CounterStore,
    private readonly limits: LoginLimits,
    private readonly clock: Clock,
  ) {}

  /** Throws `too_many_attempts` when either limit is already spent; checked before any hashing. */
  async assertAllowed(account: string, ip: string): Promise<void> {
    const now = this.clock.now();
    const checks = [
      [this.pairKey(account, ip), this.limits.perAccountAndIp],
      [this.accountKey(account), this.limits.perAccount],
    ] as const;
    for (const [key, limit] of checks) {
      const window = await this.counters.peek(key, limit.windowSeconds * 1000, now);
      if (window.count >= limit.max) throw tooMany(window.resetAt - now);
    }
  }

  async recordFailure(account: string, ip: string): Promise<void> {
    const now = this.clock.now();
    await Promise.all([
      this.counters.hit(this.pairKey(account, ip), this.limits.perAccountAndIp.windowSeconds * 1000, now),
      this.counters.hit(this.accountKey(account), this.limits.perAccount.windowSeconds * 1000, now),
    ]);
  }

  /** A correct password clears this address's failures for the account (not the global count). */
  async recordSuccess(account: string, ip: string): Promise<void> {
    await this.counters.reset(
      this.pairKey(account, ip),
      this.limits.perAccountAndIp.windowSeconds * 1000,
      this.clock.now(),
    );
  }

  private pairKey(account: string, ip: string): string {
    return `login-fail:${account}:${ip}`;
  }

  private accountKey(account: string): string {
    return `login-fail:${account}`;
  }
}

export function tooMany(retryAfterMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError('too_many_attempts', `Too many attempts; try again in ${seconds} seconds.`, {
    retryAfterSeconds: seconds,
  });
}
