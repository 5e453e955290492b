/**
 * The one place the environment is read. `loadConfig` validates every value at once and
 * reports each bad one on its own line, so a misconfigured deploy fails with the full list.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import {
  type DatabaseTarget,
  parseBoolean,
  parseDatabaseUrl,
  parseDuration,
  parseInteger,
  parseMailFrom,
  parseOriginList,
  parsePublicUrl,
  parseRpId,
  parseTrustProxy,
  parseWebhookUrls,
  type WebhookEndpoint,
} from './config-parsers.js';
import { AUDIT_TYPES } from './core/audit-types.js';

export type JwtAlgorithm = 'HS256' | 'EdDSA' | 'ES256' | 'RS256';
export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['HS256', 'EdDSA', 'ES256', 'RS256'];
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface RateLimit {
  max: number;
  windowSeconds: number;
}

export interface Config {
  production: boolean;
  host: string;
  port: number;
  /** Where clients reach this service (no trailing slash): the OpenAPI document's server. */
  publicUrl: string;
  dataDir: string;
  database: DatabaseTarget;
  redisUrl: string | undefined;
  /** Key prefix for everything Tessera writes to Redis, so deployments can share a server. */
  redisPrefix: string;
  secretKey: string;
  jwt: {
    algorithm: JwtAlgorithm;
    issuer: string;
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
    leewaySeconds: number;
    /** Where EdDSA/ES256/RS256 keys live (generated there on first start); share it between instances. */
    keysDir: string;
  };
  refreshReuseIntervalSeconds: number;
  /** How soon after a rotation its session may rotate again (0: no bound). */
  refreshMinIntervalMs: number;
  bodyLimitBytes: number;
  password: { minLength: number; maxLength: number };
  argon2: { memoryKiB: number; iterations: number; parallelism: number; concurrency: number };
  rateLimits: {
    perIp: RateLimit;
    /** Introspections and feed connections per resource-server client. */
    perClient: RateLimit;
    loginFailuresPerAccountAndIp: RateLimit;
    loginFailuresPerAccount: RateLimit;
  };
  logLevel: LogLevel;
  trustProxy: boolean | number | string[];
  purgeIntervalSeconds: number;
  storeTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Verified access tokens kept in memory (see core/access-cache.ts); 0 turns the cache off. */
  accessCacheEntries: number;
  mail: MailConfig;
  /** Login refuses a correct password until the address is proven (403 email_not_verified). */
  requireEmailVerification: boolean;
  mfa: {
    /** The issuer authenticator apps show beside the account name. */
    issuer: string;
    /** What TOTP secrets are sealed with (AES-256-GCM, by HKDF): MFA_ENCRYPTION_KEY, else SECRET_KEY. */
    encryptionKey: string | undefined;
  };
  browser: BrowserConfig;
  passkeys: {
    /** WebAuthn's relying-party id: PUBLIC_URL's host or a parent domain of it. */
    rpId: string;
    /** The name an authenticator shows beside the account. */
    rpName: string;
  };
  audit: {
    /** False keeps no audit events (webhooks still fire): for measuring what the log costs. */
    keep: boolean;
    /** Events older than this are purged; 0 keeps them for ever. */
    retentionSeconds: number;
  };
  /** Receivers of signed audit events (Standard Webhooks), delivered through the outbox. */
  webhooks: WebhookEndpoint[];
  /** Prometheus metrics on their own listener; undefined: off. */
  metrics: { port: number; host: string } | undefined;
}

export type CookieNaming = 'tessera' | 'flask';

export interface BrowserConfig {
  /** Cookie (and CSRF header) names: Tessera's own, or Flask-JWT-Extended's for its clients. */
  cookieNames: CookieNaming;
  /** Other origins allowed to call the API with credentials (CORS) and to be `return_to` targets. */
  corsOrigins: string[];
  /** The hosted pages' language, when a translation exists (see http/pages/strings.ts). */
  pagesLanguage: string;
  /** An operator's stylesheet served instead of the built-in one at /pages/style.css. */
  pagesStylesheet: string | undefined;
}

export interface MailConfig {
  /** smtp:// or smtps:// with credentials; without it (outside production) mail goes to `dropDir`. */
  smtpUrl: string | undefined;
  /** The From header: an address, or `Name <address>`. */
  from: string;
  /** Where an operator's templates override the built-in ones. */
  templatesDir: string | undefined;
  /** No mail at all: the mail flows answer 503 `unavailable` rather than drop a message. */
  disabled: boolean;
  /** Development: each message written here as an .eml file (DATA_DIR/mail). */
  dropDir: string;
  verifyTokenTtlSeconds: number;
  resetTokenTtlSeconds: number;
  /** At most one mail per address in this many seconds... */
  minIntervalSeconds: number;
  /** ...and this many an hour; past either, the answer is the same and nothing is sent. */
  perAddressPerHour: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads `.env` from `cwd` if present; real environment variables win over it. */
export function readEnvironment(cwd: string, processEnv: Env): Env {
  const file = join(cwd, '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...processEnv };
}

const MIN_PRODUCTION_SECRET_BYTES = 32;
const SECRET_FILE = 'secret_key';

export function loadConfig(env: Env, cwd: string): LoadedConfig {
  const problems: string[] = [];
  const warnings: string[] = [];

  const read = <T>(name: string, fallback: T, parse: (raw: string) => T | undefined, expected: string): T => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = parse(raw);
    if (value === undefined) {
      problems.push(`${name}=${JSON.stringify(raw)} is not valid: expected ${expected}.`);
      return fallback;
    }
    return value;
  };
  const duration = (name: string, fallback: number) =>
    read(name, fallback, parseDuration, 'seconds as a whole number, or with a unit like 15m, 12h, 30d');
  const integer = (name: string, fallback: number, min: number, max: number) =>
    read(name, fallback, (raw) => parseInteger(raw, min, max), `a whole number from ${min} to ${max}`);

  const production = env.NODE_ENV === 'production';
  const dataDir = resolve(cwd, env.DATA_DIR || './data');
  const database = read<DatabaseTarget>(
    'DATABASE_URL',
    { kind: 'sqlite', file: join(dataDir, 'tessera.sqlite3') },
    (raw) => parseDatabaseUrl(raw, cwd),
    'sqlite:<path>, sqlite:///<path> or postgres://user@host:port/db',
  );
  const redisUrl = read<string | undefined>(
    'REDIS_URL',
    undefined,
    (raw) => (/^rediss?:\/\//i.test(raw) ? raw : undefined),
    'redis://host:port or rediss://host:port',
  );
  const algorithm = read<JwtAlgorithm>(
    'JWT_ALGORITHM',
    'HS256',
    (raw) => JWT_ALGORITHMS.find((a) => a.toLowerCase() === raw.trim().toLowerCase()),
    JWT_ALGORITHMS.join(', '),
  );
  const accessTtlSeconds = duration('ACCESS_TOKEN_TTL', 15 * 60);
  const refreshTtlSeconds = duration('REFRESH_TOKEN_TTL', 30 * 86400);
  if (accessTtlSeconds < 1) problems.push('ACCESS_TOKEN_TTL must be at least 1 second.');
  if (refreshTtlSeconds < accessTtlSeconds) {
    problems.push('REFRESH_TOKEN_TTL must not be shorter than ACCESS_TOKEN_TTL.');
  }
  const passwordMin = integer('PASSWORD_MIN_LENGTH', 8, 8, 256);
  const passwordMax = integer('PASSWORD_MAX_LENGTH', 256, 8, 1024);
  if (passwordMax < passwordMin) problems.push('PASSWORD_MAX_LENGTH must not be below PASSWORD_MIN_LENGTH.');

  const perMinute = (name: string, fallback: number): RateLimit => ({
    max: integer(name, fallback, 1, 1_000_000),
    windowSeconds: 60,
  });

  const port = integer('PORT', 5000, 0, 65535);
  const publicUrl = read('PUBLIC_URL', `http://127.0.0.1:${port}`, parsePublicUrl, 'an http:// or https:// URL');
  const config: Config = {
    production,
    host: env.HOST || '127.0.0.1',
    port,
    publicUrl,
    dataDir,
    database,
    redisUrl,
    redisPrefix: env.REDIS_PREFIX || 'tessera:',
    secretKey: '',
    jwt: {
      algorithm,
      issuer: env.JWT_ISSUER || 'tessera',
      accessTtlSeconds,
      refreshTtlSeconds,
      leewaySeconds: integer('JWT_LEEWAY', 5, 0, 300),
      keysDir: env.JWT_KEYS_DIR ? resolve(cwd, env.JWT_KEYS_DIR) : join(dataDir, 'keys'),
    },
    refreshReuseIntervalSeconds: integer('REFRESH_REUSE_INTERVAL', 10, 0, 3600),
    refreshMinIntervalMs: integer('REFRESH_MIN_INTERVAL_MS', 1000, 0, 3_600_000),
    bodyLimitBytes: integer('BODY_LIMIT', 16 * 1024, 1024, 1024 * 1024),
    password: { minLength: passwordMin, maxLength: passwordMax },
    // OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1.
    argon2: {
      memoryKiB: integer('ARGON2_MEMORY_KIB', 19456, 8192, 1048576),
      iterations: integer('ARGON2_ITERATIONS', 2, 1, 10),
      parallelism: integer('ARGON2_PARALLELISM', 1, 1, 16),
      // One core stays free for requests: see limitConcurrency in core/password-hasher.ts.
      concurrency: integer('HASH_CONCURRENCY', Math.max(1, availableParallelism() - 1), 1, 64),
    },
    rateLimits: {
      perIp: perMinute('RATE_LIMIT_PER_IP', 120),
      perClient: perMinute('RATE_LIMIT_PER_CLIENT', 6000),
      loginFailuresPerAccountAndIp: {
        max: integer('LOGIN_FAILURES_PER_ACCOUNT_IP', 10, 1, 10_000),
        windowSeconds: 15 * 60,
      },
      loginFailuresPerAccount: {
        max: integer('LOGIN_FAILURES_PER_ACCOUNT', 100, 1, 100_000),
        windowSeconds: 15 * 60,
      },
    },
    logLevel: read<LogLevel>(
      'LOG_LEVEL',
      'info',
      (raw) => LOG_LEVELS.find((l) => l === raw.trim().toLowerCase()),
      LOG_LEVELS.join(', '),
    ),
    trustProxy: read('TRUST_PROXY', false, parseTrustProxy, 'true, false, a hop count, or a list of addresses'),
    purgeIntervalSeconds: duration('PURGE_INTERVAL', 600),
    storeTimeoutMs: integer('STORE_TIMEOUT_MS', 2000, 100, 60_000),
    shutdownTimeoutMs: integer('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    accessCacheEntries: integer('ACCESS_CACHE_SIZE', 10_000, 0, 1_000_000),
    mail: {
      smtpUrl: read<string | undefined>(
        'SMTP_URL',
        undefined,
        (raw) => (/^smtps?:\/\/[^/\s]+/i.test(raw.trim()) ? raw.trim() : undefined),
        'smtp://user:password@host:port or smtps://…',
      ),
      from: read(
        'MAIL_FROM',
        `Tessera <no-reply@${new URL(publicUrl).hostname}>`,
        parseMailFrom,
        'an address, or Name <address>',
      ),
      templatesDir: env.MAIL_TEMPLATES_DIR ? resolve(cwd, env.MAIL_TEMPLATES_DIR) : undefined,
      disabled: read('MAIL_DISABLED', false, parseBoolean, 'true or false'),
      dropDir: join(dataDir, 'mail'),
      verifyTokenTtlSeconds: duration('VERIFY_TOKEN_TTL', 24 * 3600),
      resetTokenTtlSeconds: duration('RESET_TOKEN_TTL', 3600),
      minIntervalSeconds: duration('MAIL_MIN_INTERVAL', 60),
      perAddressPerHour: integer('MAIL_PER_ADDRESS_PER_HOUR', 5, 1, 1000),
    },
    requireEmailVerification: read('REQUIRE_EMAIL_VERIFICATION', false, parseBoolean, 'true or false'),
    mfa: {
      issuer: read(
        'MFA_ISSUER',
        'Tessera',
        (raw) => (/^[^:\r\n]{1,64}$/.test(raw.trim()) ? raw.trim() : undefined),
        '1 to 64 characters, no colon',
      ),
      encryptionKey: env.MFA_ENCRYPTION_KEY || undefined,
    },
    passkeys: {
      rpId: read(
        'PASSKEY_RP_ID',
        new URL(publicUrl).hostname,
        (raw) => parseRpId(raw, new URL(publicUrl).hostname),
        "PUBLIC_URL's host or a parent domain of it (not an IP address)",
      ),
      rpName: read(
        'PASSKEY_RP_NAME',
        'Tessera',
        (raw) => (/^[^\r\n]{1,64}$/.test(raw.trim()) ? raw.trim() : undefined),
        '1 to 64 characters',
      ),
    },
    audit: {
      keep: read('AUDIT_LOG', true, parseBoolean, 'true or false'),
      retentionSeconds: duration('AUDIT_RETENTION', 90 * 86400),
    },
    webhooks: read(
      'WEBHOOK_URLS',
      [],
      (raw) => parseWebhookUrls(raw, AUDIT_TYPES),
      'url|whsec_secret or url|whsec_secret|type+type, separated by commas (see README)',
    ),
    metrics: env.METRICS_PORT
      ? { port: integer('METRICS_PORT', 9464, 1, 65535), host: env.METRICS_HOST || '127.0.0.1' }
      : undefined,
    browser: {
      cookieNames: read<CookieNaming>(
        'COOKIE_NAMES',
        'tessera',
        (raw) => (['tessera', 'flask'] as const).find((naming) => naming === raw.trim().toLowerCase()),
        'tessera or flask',
      ),
      corsOrigins: read(
        'CORS_ORIGINS',
        [],
        parseOriginList,
        'a comma-separated list of origins (https://app.example.com)',
      ),
      pagesLanguage: (env.PAGES_LANGUAGE || 'en').trim().toLowerCase(),
      pagesStylesheet: env.PAGES_STYLESHEET ? resolve(cwd, env.PAGES_STYLESHEET) : undefined,
    },
  };
  if (config.browser.pagesStylesheet !== undefined && !existsSync(config.browser.pagesStylesheet)) {
    problems.push(`PAGES_STYLESHEET names ${config.browser.pagesStylesheet}, which does not exist.`);
  }
  if (config.mfa.encryptionKey !== undefined && Buffer.byteLength(config.mfa.encryptionKey) < 32) {
    problems.push('MFA_ENCRYPTION_KEY is shorter than 32 bytes; use at least 32 random bytes.');
  }
  if (production && !config.mail.smtpUrl && !config.mail.disabled) {
    problems.push(
      'SMTP_URL is required with NODE_ENV=production, so that no mail is silently dropped; set MAIL_DISABLED=true to run without mail (the mail flows then answer 503).',
    );
  }
  if (config.mail.verifyTokenTtlSeconds < 60 || config.mail.resetTokenTtlSeconds < 60) {
    problems.push('VERIFY_TOKEN_TTL and RESET_TOKEN_TTL must be at least 60 seconds.');
  }

  config.secretKey = resolveSecret(env.SECRET_KEY, production, dataDir, problems, warnings);
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, warnings };
}

function resolveSecret(
  given: string | undefined,
  production: boolean,
  dataDir: string,
  problems: string[],
  warnings: string[],
): string {
  if (given) {
    if (Buffer.byteLength(given) < MIN_PRODUCTION_SECRET_BYTES) {
      const line = `SECRET_KEY is shorter than ${MIN_PRODUCTION_SECRET_BYTES} bytes; use at least 32 random bytes.`;
      if (production) problems.push(line);
      else warnings.push(line);
    }
    return given;
  }
  if (production) {
    problems.push('SECRET_KEY is required with NODE_ENV=production (at least 32 random bytes).');
    return '';
  }
  // Development convenience: one random secret, made once and kept, so tokens survive restarts.
  const file = join(dataDir, SECRET_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  warnings.push(`SECRET_KEY is not set: generated one into ${file}. Set SECRET_KEY in production.`);
  return secret;
}
