/** Wires the core services from configuration and stores: used by the HTTP app and the CLI alike. */
import { type Clock, systemClock } from '../clock.js';
import type { Config } from '../config.js';
import type { Stores } from '../store/types.js';
import { hmacKeyRing } from '../tokens/keys.js';
import { createTokenService } from '../tokens/token-service.js';
import { AccountService } from './accounts.js';
import { LoginThrottle } from './login-throttle.js';
import { createPasswordHasher, type PasswordHasher } from './password-hasher.js';
import { SessionService } from './sessions.js';
import { werkzeugVerifier } from './werkzeug-hashes.js';

export interface Core {
  accounts: AccountService;
  sessions: SessionService;
  /** Deletes what has expired: sessions, revocations and rate-limit windows. */
  purgeExpired(): Promise<{ sessions: number; revocations: number; counters: number }>;
}

export interface CoreOptions {
  config: Config;
  stores: Stores;
  clock?: Clock;
  /** Shared across instances in tests to skip recomputing the dummy hash. */
  hasher?: PasswordHasher;
  warn?: (message: string, context: Record<string, unknown>) => void;
}

export async function createCore({ config, stores, clock = systemClock, hasher, warn }: CoreOptions): Promise<Core> {
  const tokens = createTokenService({
    keys: hmacKeyRing(config.secretKey),
    issuer: config.jwt.issuer,
    leewaySeconds: config.jwt.leewaySeconds,
  });
  const sessions = new SessionService({
    sessions: stores.sessions,
    users: stores.users,
    revocations: stores.revocations,
    tokens,
    clock,
    accessTtlSeconds: config.jwt.accessTtlSeconds,
    refreshTtlSeconds: config.jwt.refreshTtlSeconds,
    reuseIntervalSeconds: config.refreshReuseIntervalSeconds,
  });
  const accounts = new AccountService({
    users: stores.users,
    sessions,
    hasher: hasher ?? (await createPasswordHasher(config.argon2, [werkzeugVerifier])),
    passwordRules: config.password,
    clock,
    warn: warn ?? ((message, context) => console.warn(message, context)),
    throttle: new LoginThrottle(
      stores.counters,
      {
        perAccountAndIp: config.rateLimits.loginFailuresPerAccountAndIp,
        perAccount: config.rateLimits.loginFailuresPerAccount,
      },
      clock,
    ),
  });
  const purgeExpired = async () => {
    const [purged, counters] = await Promise.all([sessions.purgeExpired(), stores.counters.purge(clock.now())]);
    return { ...purged, counters };
  };
  return { accounts, sessions, purgeExpired };
}
