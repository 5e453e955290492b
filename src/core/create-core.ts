/** Wires the core services from configuration and stores: used by the HTTP app and the CLI alike. */
import { type Clock, systemClock } from '../clock.js';
import type { Config } from '../config.js';
import type { Stores } from '../store/types.js';
import { keysVersion, loadKeys } from '../tokens/key-source.js';
import { createTokenService, type TokenService } from '../tokens/token-service.js';
import { AccountService } from './accounts.js';
import { LoginThrottle } from './login-throttle.js';
import { createPasswordHasher, type PasswordHasher } from './password-hasher.js';
import { SessionService } from './sessions.js';
import { werkzeugVerifier } from './werkzeug-hashes.js';

export interface Core {
  accounts: AccountService;
  sessions: SessionService;
  tokens: TokenService;
  /** Deletes what has expired: sessions, revocations and rate-limit windows. */
  purgeExpired(): Promise<{ sessions: number; revocations: number; counters: number; changes: number }>;
  /** Picks up a key rotation made by `tessera keys rotate` (or another instance); true if keys changed. */
  reloadKeysIfChanged(): boolean;
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
    keys: loadKeys(config, clock.now()),
    issuer: config.jwt.issuer,
    leewaySeconds: config.jwt.leewaySeconds,
  });
  const sessions = new SessionService({
    sessions: stores.sessions,
    users: stores.users,
    revocations: stores.revocations,
    generation: stores.generation,
    tokens,
    clock,
    accessCacheEntries: config.accessCacheEntries,
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
    // After the sessions: purging them raises the generation and logs a change.
    const changes = await stores.generation.purge();
    return { ...purged, counters, changes };
  };
  let loadedVersion = keysVersion(config);
  const reloadKeysIfChanged = () => {
    const version = keysVersion(config);
    if (version === loadedVersion) return false;
    tokens.useKeys(loadKeys(config, clock.now()));
    sessions.forgetVerifiedTokens();
    loadedVersion = version;
    return true;
  };
  return { accounts, sessions, tokens, purgeExpired, reloadKeysIfChanged };
}
