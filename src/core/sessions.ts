/**
 * Sessions and the tokens that belong to them. Every login opens a session; its refresh token
 * rotates on each use; ending the session stops every token it issued on their next request,
 * because authentication checks the session as well as the token.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AppError, type ErrorCode } from '../errors.js';
import type {
  GenerationSource,
  MintingSession,
  RevocationStore,
  SessionRecord,
  SessionStore,
  UserRecord,
  UserStore,
} from '../store/types.js';
import type { TokenClaims, TokenType } from '../tokens/claims.js';
import type { TokenService } from '../tokens/token-service.js';
import { AccessCache } from './access-cache.js';
import type { AuditLog } from './audit.js';
import type { Telemetry } from './telemetry.js';
import {
  type Assurance,
  type ClientInfo,
  type EndReason,
  type LogoutScope,
  PASSWORD_ONLY,
  type Principal,
  type TokenPair,
} from './types.js';

export interface SessionServiceOptions {
  sessions: SessionStore;
  users: UserStore;
  revocations: RevocationStore;
  generation: GenerationSource;
  tokens: TokenService;
  clock: Clock;
  /** How many verified access tokens to keep; 0 turns the cache off. */
  accessCacheEntries: number;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  reuseIntervalSeconds: number;
  /** How soon after a rotation its session may rotate again; 0 for no bound. */
  refreshMinIntervalMs: number;
  audit: AuditLog;
  /** Metrics, when they are on. */
  telemetry?: Telemetry;
  /** Where a revocation is looked up past the cache: Redis in front of the database, or the database. */
  revocationSource: 'redis' | 'database';
}

/** What each operation may throw (a failing store is `unavailable`), for the API's list of answers. */
export const SESSION_ERRORS = {
  authenticate: ['invalid_token', 'token_expired', 'token_revoked', 'unavailable'],
  refresh: ['invalid_token', 'token_expired', 'token_revoked', 'unavailable'],
  revoke: ['unavailable'],
  logout: ['unavailable'],
  list: ['unavailable'],
  endOwn: ['not_found', 'unavailable'],
} as const satisfies Record<string, readonly ErrorCode[]>;

/** The answers that refuse a presented token: what a guess gets, so what a per-address limit counts. */
export const TOKEN_REFUSED = [
  'invalid_token',
  'token_expired',
  'token_revoked',
] as const satisfies readonly ErrorCode[];

const revoked = (message = 'The token has been revoked.') => new AppError('token_revoked', message);

export class SessionService {
  private readonly accessCache: AccessCache;

  constructor(private readonly o: SessionServiceOptions) {
    this.accessCache = new AccessCache({
      generation: o.generation,
      maxEntries: o.accessCacheEntries,
      expired: ({ claims }) => o.tokens.hasExpired(claims, o.clock.now()),
    });
  }

  /** Opens a session at the assurance its login reached (a password alone: aal 1, amr ["pwd"]). */
  async open(user: UserRecord, client: ClientInfo, assurance: Assurance = PASSWORD_ONLY): Promise<TokenPair> {
    const now = this.o.clock.now();
    const iat = Math.floor(now / 1000);
    const session: SessionRecord = {
      id: randomUUID(),
      userId: user.id,
      refreshJti: randomUUID(),
      refreshIssuedAt: iat,
      previousJti: null,
      rotatedAt: null,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: (iat + this.o.refreshTtlSeconds) * 1000,
      endedAt: null,
      endReason: null,
      userAgent: client.userAgent?.slice(0, 512) ?? null,
      ip: client.ip,
      aal: assurance.aal,
      amr: [...assurance.amr],
    };
    await this.o.audit.inTransaction(async (tx, record) => {
      await tx.sessions.insert(session);
      await record('login.succeeded', {
        userId: user.id,
        sessionId: session.id,
        client,
        data: { aal: assurance.aal, amr: assurance.amr.join(' ') },
      });
    });
    return this.pair(session, user.roles, true);
  }

  /**
   * Verifies a token of one of the `accepted` types and loads its session and user.
   * A refresh token that was already rotated away counts as reuse: see `checkRefreshJti`.
   */
  authenticate(token: string, accepted: readonly TokenType[]): Promise<Principal> {
    const load = () => this.load(token, accepted);
    if (!accepted.includes('access')) return load();
    const { telemetry } = this.o;
    if (telemetry === undefined) return this.accessCache.resolve(token, load);
    let loaded = false;
    return this.accessCache
      .resolve(token, () => {
        loaded = true;
        return load();
      })
      .then((principal) => {
        if (!loaded) telemetry.revocationChecked('cache');
        return principal;
      });
  }

  /** Forgets every cached access check: after a key rotation, tokens of a retired key must fail. */
  forgetVerifiedTokens(): void {
    this.accessCache.clear();
  }

  /** Rotates the presented refresh token: the answer carries its successor and a new access token. */
  async refresh(token: string): Promise<TokenPair> {
    const claims = this.verified(token, ['refresh']);
    const now = this.o.clock.now();
    const iat = Math.floor(now / 1000);
    // Nearly every refresh presents its session's current token: the store checks the session and
    // user and rotates in one statement (see SessionStore.rotate).
    const rotated = await this.o.sessions.rotate(
      {
        sessionId: claims.sid,
        userId: claims.sub,
        fromJti: claims.jti,
        toJti: randomUUID(),
        issuedAt: iat,
        expiresAt: (iat + this.o.refreshTtlSeconds) * 1000,
        // Bounded per session, not per address (an address may be a whole office or carrier):
        // sooner than this, the refresh is answered without a rotation (below).
        lastRotationBy: this.o.refreshMinIntervalMs > 0 ? now - this.o.refreshMinIntervalMs : Number.MAX_SAFE_INTEGER,
      },
      now,
    );
    if (rotated) {
      this.o.telemetry?.refreshed('rotated');
      return this.pair(rotated.session, rotated.roles, false);
    }
    // Otherwise the full check says why, and refuses: the session ended, the user went away or
    // was disabled, or the token was replayed (which ends the session). What it lets through is
    // answered from the session as stored, without a write: a retry inside the reuse interval
    // gets the successor already issued, not a new branch; the current token of a session that
    // rotated moments ago (another tab got there first) gets that same token back, with a new
    // access token.
    const { session, user } = await this.checked(claims);
    this.o.telemetry?.refreshed(claims.jti === session.refreshJti ? 'too_soon' : 'reused_within_window');
    return this.pair(session, user.roles, false);
  }

  /** Revokes what the principal presented: one access token, or a refresh token's whole session. */
  async revoke(principal: Principal, client: ClientInfo): Promise<TokenType> {
    const { claims } = principal;
    // The fast path could not be told of an access token: end the session, which every instance
    // reads from the database on every request, so no instance can accept it. Over-revoking is safe.
    const endSession =
      claims.type === 'refresh' || (await this.o.revocations.revoke(claims.jti, claims.exp * 1000)) === 'pending';
    if (endSession) await this.endWithRecord(principal.user.id, claims.sid, 'revoked', client);
    return claims.type;
  }

  async logout(principal: Principal, scope: LogoutScope, client: ClientInfo): Promise<number> {
    const { session, user } = principal;
    const now = this.o.clock.now();
    return this.o.audit.inTransaction(async (tx, record) => {
      const ended =
        scope === 'local'
          ? (await tx.sessions.end(session.id, 'logout', now))
            ? 1
            : 0
          : (await tx.sessions.endAllForUser(user.id, 'logout', now, scope === 'others' ? session.id : undefined))
              .length;
      await record('logout', {
        userId: user.id,
        sessionId: session.id,
        client,
        data: { scope, sessions_ended: ended },
      });
      return ended;
    });
  }

  list(userId: string): Promise<SessionRecord[]> {
    return this.o.sessions.listLive(userId, this.o.clock.now());
  }

  /** Ends one of the user's own sessions; someone else's id is reported exactly like an unknown one. */
  async endOwn(userId: string, sessionId: string, client: ClientInfo): Promise<void> {
    const session = await this.o.sessions.find(sessionId);
    if (!session || session.userId !== userId || session.endedAt !== null) {
      throw new AppError('not_found', 'No such session.');
    }
    await this.endWithRecord(userId, sessionId, 'ended_by_user', client);
  }

  /** Ends one session and records it, if it was still live. */
  private async endWithRecord(userId: string, sessionId: string, reason: EndReason, client: ClientInfo | null) {
    await this.o.audit.inTransaction(async (tx, record) => {
      if (await tx.sessions.end(sessionId, reason, this.o.clock.now())) {
        await record('session.ended', { userId, sessionId, client, data: { reason } });
      }
    });
  }

  endAllForUser(userId: string, reason: EndReason, exceptSessionId?: string): Promise<string[]> {
    return this.o.sessions.endAllForUser(userId, reason, this.o.clock.now(), exceptSessionId);
  }

  /** Drops revocations and sessions whose tokens have all expired or been ended. */
  async purgeExpired(): Promise<{ sessions: number; revocations: number }> {
    const now = this.o.clock.now();
    const [sessions, revocations] = await Promise.all([this.o.sessions.purge(now), this.o.revocations.purge(now)]);
    return { sessions, revocations };
  }

  /** The policy behind `authenticate`: signature and claims, then the session, user and token id as stored. */
  private load(token: string, accepted: readonly TokenType[]): Promise<Principal> {
    return this.checked(this.verified(token, accepted));
  }

  private verified(token: string, accepted: readonly TokenType[]): TokenClaims {
    const claims = this.o.tokens.verify(token, this.o.clock.now());
    if (!accepted.includes(claims.type)) {
      throw new AppError('invalid_token', `This endpoint needs ${accepted.map((t) => `an ${t}`).join(' or ')} token.`);
    }
    return claims;
  }

  /** Checks verified claims against the session, user and token id as stored. */
  private async checked(claims: TokenClaims): Promise<Principal> {
    if (claims.type === 'access') this.o.telemetry?.revocationChecked(this.o.revocationSource);
    const [found, jtiRevoked] = await Promise.all([
      this.o.sessions.findWithUser(claims.sid),
      claims.type === 'access' ? this.o.revocations.isRevoked(claims.jti) : Promise.resolve(false),
    ]);
    if (!found) {
      // The session is gone: purged after it ended, or deleted with its user.
      const user = await this.o.users.findById(claims.sub);
      if (!user) throw new AppError('invalid_token', 'The token names a user that does not exist.');
      throw revoked();
    }
    const { session, user } = found;
    if (user.id !== claims.sub) throw new AppError('invalid_token', 'The token does not match its session.');
    if (session.endedAt !== null || user.disabled || jtiRevoked) throw revoked();
    const principal = { claims, session, user };
    if (claims.type === 'refresh') await this.checkRefreshJti(principal);
    return principal;
  }

  /**
   * The presented refresh jti must be the session's current one, or the one just rotated away
   * and still inside the reuse interval (counted from its rotation). Anything else is a replay
   * of a consumed token: the whole session ends, committed before the request fails.
   */
  private async checkRefreshJti({ claims, session }: Principal): Promise<void> {
    if (claims.jti === session.refreshJti) return;
    const now = this.o.clock.now();
    const inGrace =
      claims.jti === session.previousJti &&
      session.rotatedAt !== null &&
      now - session.rotatedAt < this.o.reuseIntervalSeconds * 1000;
    if (inGrace) return;
    this.o.telemetry?.refreshed('reuse_detected');
    await this.o.audit.inTransaction(async (tx, record) => {
      if (await tx.sessions.end(session.id, 'refresh_reuse', now)) {
        await record('refresh.reuse_detected', { userId: session.userId, sessionId: session.id });
      }
    });
    throw revoked('This refresh token was already used; the session has been ended.');
  }

  private pair(session: MintingSession, roles: string[], fresh: boolean): TokenPair {
    const now = this.o.clock.now();
    const iat = Math.floor(now / 1000);
    const accessToken = this.o.tokens.sign({
      sub: session.userId,
      jti: randomUUID(),
      sid: session.id,
      type: 'access',
      iat,
      exp: iat + this.o.accessTtlSeconds,
      fresh,
      roles,
      // The session keeps its level: a refresh mints tokens at the level its login reached.
      aal: session.aal,
      amr: session.amr,
    });
    // Re-signing the session's current refresh token from stored fields gives the same token
    // (same jti), which is what a retry inside the reuse interval must receive.
    const refreshToken = this.o.tokens.sign({
      sub: session.userId,
      jti: session.refreshJti,
      sid: session.id,
      type: 'refresh',
      iat: session.refreshIssuedAt,
      exp: Math.floor(session.expiresAt / 1000),
    });
    return {
      accessToken,
      refreshToken,
      expiresIn: this.o.accessTtlSeconds,
      sessionId: session.id,
      refreshExpiresIn: Math.max(0, Math.floor(session.expiresAt / 1000) - iat),
    };
  }
}
