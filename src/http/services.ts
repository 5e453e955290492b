import type { FastifyRequest, preValidationHookHandler } from 'fastify';
import type { Config, RateLimit } from '../config.js';
import type { AccountService } from '../core/accounts.js';
import type { AuditLog } from '../core/audit.js';
import type { EmailFlowService } from '../core/email-flows.js';
import type { MfaService } from '../core/mfa.js';
import type { PasskeyService } from '../core/passkeys.js';
import type { ResourceServerService } from '../core/resource-servers.js';
import type { SessionService } from '../core/sessions.js';
import type { ClientInfo } from '../core/types.js';
import type { ErrorCode } from '../errors.js';
import type { HealthCheck } from '../store/types.js';
import type { KeyRing } from '../tokens/keys.js';
import type { Authenticator, Requirement } from './authenticate.js';
import type { CookieTransport } from './browser/cookies.js';
import type { TrustedOrigins } from './browser/origins.js';
import type { Precondition } from './endpoint.js';
import type { FailureLimit } from './rate-limit.js';

/** What the route plugins are given: the core services, never the stores behind them. */
export interface Services {
  config: Config;
  accounts: AccountService;
  sessions: SessionService;
  emailFlows: EmailFlowService;
  mfa: MfaService;
  passkeys: PasskeyService;
  audit: AuditLog;
  resourceServers: ResourceServerService;
  health: readonly HealthCheck[];
  /** Whether an error means a store is unreachable (answered 503 `unavailable`). */
  isUnavailable(error: unknown): boolean;
  /** A per-address limit for one group of routes (RATE_LIMIT_PER_IP a minute). */
  limitPerIp(bucket: string): Precondition;
  /** A per-address limit on failures only (RATE_LIMIT_PER_IP a minute): what succeeds is not counted. */
  limitFailuresPerIp(bucket: string, counted: readonly ErrorCode[]): FailureLimit;
  /** A limit per whatever `keyOf` names (a resource-server client), `limit` a window. */
  limitPerKey(bucket: string, keyOf: (request: FastifyRequest) => string, limit: RateLimit): Precondition;
  jwks(): KeyRing['jwks'];
  /** Authenticates by Bearer or cookie and checks the requirement (and CSRF for cookies). */
  guard(requirement: Requirement): Precondition;
  authenticator: Authenticator;
  cookies: CookieTransport;
  origins: TrustedOrigins;
}

export function clientInfo(request: FastifyRequest): ClientInfo {
  const agent = request.headers['user-agent'];
  return { userAgent: typeof agent === 'string' ? agent : null, ip: request.ip || null };
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** For routes whose JSON body is optional: no body validates as an empty object. */
export const emptyBodyAsObject: preValidationHookHandler = (request, _reply, done) => {
  request.body ??= {};
  done();
};
