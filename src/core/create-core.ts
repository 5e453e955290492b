/** Wires the core services from configuration and stores: used by the HTTP app and the CLI alike. */
import { type Clock, systemClock } from '../clock.js';
import type { Config } from '../config.js';
import type { Stores } from '../store/types.js';
import { hmacKeyRing } from '../tokens/keys.js';
import { createTokenService } from '../tokens/token-service.js';
import { AccountService } from './accounts.js';
import { createPasswordHasher, type PasswordHasher } from './password-hasher.js';
import { SessionService } from './sessions.js';

export interface Core {
  accounts: AccountService;
  sessions: SessionService;
}

export interface CoreOptions {
  config: Config;
  stores: Stores;
  clock?: Clock;
  /** Shared across instances in tests to skip recomputing the dummy hash. */
  hasher?: PasswordHasher;
}

export async function createCore({ config, stores, clock = systemClock, hasher }: CoreOptions): Promise<Core> {
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
    hasher: hasher ?? (await createPasswordHasher(config.argon2)),
    passwordRules: config.password,
    clock,
  });
  return { accounts, sessions };
}
