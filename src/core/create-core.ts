/** Wires the core services from configuration and stores: used by the HTTP app and the CLI alike. */
import { type Clock, systemClock } from '../clock.js';
import type { Config } from '../config.js';
import { createSealer } from '../crypto/sealer.js';
import { createMailRenderer } from '../mail/templates.js';
import { createMailTransport, type MailTransport } from '../outbox/mail-transport.js';
import { createOutbox, MAIL_TOPIC } from '../outbox/outbox.js';
import { createOutboxWorker, type OutboxWorker } from '../outbox/worker.js';
import type { Stores } from '../store/types.js';
import { keysVersion, loadKeys } from '../tokens/key-source.js';
import { createTokenService, type TokenService } from '../tokens/token-service.js';
import { WEBHOOK_TOPIC, webhookDelivery, webhookListener } from '../webhooks/webhooks.js';
import { AccountService } from './accounts.js';
import { type AuditListener, AuditLog } from './audit.js';
import { EmailFlowService } from './email-flows.js';
import { LoginThrottle } from './login-throttle.js';
import { MailLimits } from './mail-limits.js';
import { MfaService } from './mfa.js';
import { PasskeyService } from './passkeys.js';
import { createPasswordHasher, type PasswordHasher } from './password-hasher.js';
import { ResourceServerService } from './resource-servers.js';
import { SessionService } from './sessions.js';
import type { Telemetry } from './telemetry.js';
import { werkzeugVerifier } from './werkzeug-hashes.js';

export interface Core {
  accounts: AccountService;
  sessions: SessionService;
  emailFlows: EmailFlowService;
  mfa: MfaService;
  passkeys: PasskeyService;
  tokens: TokenService;
  /** Delivers queued mail and webhooks and runs queued jobs. */
  outboxWorker: OutboxWorker;
  hasher: PasswordHasher;
  resourceServers: ResourceServerService;
  audit: AuditLog;
  /** How mail leaves; absent with MAIL_DISABLED. */
  mailTransport: MailTransport | undefined;
  /**
   * Deletes what has expired: sessions, revocations, rate-limit windows, used links, sent mail.
   * Called while a purge runs, it answers with that purge's counts.
   */
  purgeExpired(): Promise<{
    sessions: number;
    revocations: number;
    counters: number;
    changes: number;
    linkTokens: number;
    outbox: number;
    mfaChallenges: number;
    passkeyChallenges: number;
    auditEvents: number;
  }>;
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
  info?: (message: string, context: Record<string, unknown>) => void;
  /** Hear every audit event (metrics; webhooks come from the config). */
  auditListeners?: readonly AuditListener[];
  /** Told of each outbox entry that failed for good or will be retried (metrics). */
  onOutboxFailure?: (topic: string, final: boolean) => void;
  telemetry?: Telemetry;
}

/** Delivered entries are kept this long (for `tessera mail status`), then purged. */
const DONE_KEPT_MS = 7 * 86400 * 1000;

export async function createCore(options: CoreOptions): Promise<Core> {
  const { config, stores, clock = systemClock } = options;
  const warn = options.warn ?? ((message, context) => console.warn(message, context));
  const info = options.info ?? ((message, context) => console.info(message, context));
  const tokens = createTokenService({
    keys: loadKeys(config, clock.now()),
    issuer: config.jwt.issuer,
    leewaySeconds: config.jwt.leewaySeconds,
  });
  const sealer = createSealer(config.secretKey, 'outbox');
  let worker: OutboxWorker | undefined;
  const outbox = createOutbox(sealer, clock, () => worker?.wake());
  const audit = new AuditLog({
    stores,
    clock,
    keep: config.audit.keep,
    listeners: [
      ...(config.webhooks.length > 0 ? [webhookListener(config.webhooks, outbox)] : []),
      ...(options.auditListeners ?? []),
    ],
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
    refreshMinIntervalMs: config.refreshMinIntervalMs,
    audit,
    telemetry: options.telemetry,
    revocationSource: stores.revocations === stores.durableRevocations ? 'database' : 'redis',
  });
  const hasher = options.hasher ?? (await createPasswordHasher(config.argon2, [werkzeugVerifier], options.telemetry));

  const mailTransport = config.mail.disabled ? undefined : createMailTransport(config.mail, config.publicUrl, info);
  const emailFlows = new EmailFlowService({
    stores,
    // Without mail the flows answer 503 rather than queue a mail nobody will send.
    outbox: config.mail.disabled ? undefined : outbox,
    renderer: createMailRenderer(config.mail.templatesDir),
    limits: new MailLimits(stores.counters, config.mail, clock),
    hasher,
    passwordRules: config.password,
    mail: config.mail,
    publicUrl: config.publicUrl,
    clock,
    audit,
  });
  worker = createOutboxWorker({
    outbox: stores.outbox,
    sealer,
    clock,
    warn,
    onFailure: options.onOutboxFailure,
    handlers: {
      // The wall clock, whatever clock the core runs on: receivers compare it with theirs.
      [WEBHOOK_TOPIC]: webhookDelivery(config.webhooks, () => systemClock.now()),
      ...(mailTransport && {
        ...emailFlows.jobHandlers(),
        [MAIL_TOPIC]: async (payload, entry) => {
          await mailTransport.send(payload as Parameters<MailTransport['send']>[0], entry.id);
          return 'done';
        },
      }),
    },
  });

  const throttle = new LoginThrottle(
    stores.counters,
    {
      perAccountAndIp: config.rateLimits.loginFailuresPerAccountAndIp,
      perAccount: config.rateLimits.loginFailuresPerAccount,
    },
    clock,
  );
  const passkeys = new PasskeyService({
    stores,
    sessions,
    throttle,
    audit,
    clock,
    rp: {
      id: config.passkeys.rpId,
      name: config.passkeys.rpName,
      origins: [new URL(config.publicUrl).origin, ...config.browser.corsOrigins],
    },
    secret: config.secretKey,
    requireEmailVerification: config.requireEmailVerification,
    passwordUsable: (user) => hasher.canVerify(user.passwordHash),
  });
  const mfa = new MfaService({
    stores,
    sessions,
    passkeys,
    throttle,
    // MFA_ENCRYPTION_KEY lets an operator rotate SECRET_KEY without re-enrolling every user.
    sealer: createSealer(config.mfa.encryptionKey ?? config.secretKey, 'mfa'),
    issuer: config.mfa.issuer,
    clock,
    audit,
  });
  const accounts = new AccountService({
    users: stores.users,
    audit,
    emailFlows,
    mfa,
    requireEmailVerification: config.requireEmailVerification,
    sessions,
    hasher,
    passwordRules: config.password,
    clock,
    warn,
    throttle,
  });
  const purgeOnce = async () => {
    const now = clock.now();
    const retention = config.audit.retentionSeconds * 1000;
    const [purged, counters, linkTokens, sent, mfaChallenges, passkeyChallenges, auditEvents] = await Promise.all([
      sessions.purgeExpired(),
      stores.counters.purge(now),
      stores.linkTokens.purge(now),
      stores.outbox.purge(now - DONE_KEPT_MS),
      stores.mfa.purge(now),
      passkeys.purge(now),
      retention > 0 ? audit.purge(now - retention) : Promise.resolve(0),
    ]);
    // After the sessions: purging them raises the generation and logs a change.
    const changes = await stores.generation.purge();
    return { ...purged, counters, changes, linkTokens, outbox: sent, mfaChallenges, passkeyChallenges, auditEvents };
  };
  // A backlog can take longer than PURGE_INTERVAL: a purge asked for while one runs is that one,
  // not a second pass racing it over the same rows.
  let purging: ReturnType<typeof purgeOnce> | undefined;
  const purgeExpired = () =>
    (purging ??= purgeOnce().finally(() => {
      purging = undefined;
    }));
  let loadedVersion = keysVersion(config);
  const reloadKeysIfChanged = () => {
    const version = keysVersion(config);
    if (version === loadedVersion) return false;
    tokens.useKeys(loadKeys(config, clock.now()));
    sessions.forgetVerifiedTokens();
    loadedVersion = version;
    return true;
  };
  return {
    accounts,
    sessions,
    emailFlows,
    mfa,
    passkeys,
    tokens,
    outboxWorker: worker,
    audit,
    hasher,
    resourceServers: new ResourceServerService({
      clients: stores.apiClients,
      sessions,
      generation: stores.generation,
      clock,
    }),
    mailTransport,
    purgeExpired,
    reloadKeysIfChanged,
  };
}
