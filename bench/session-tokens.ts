/**
 * Tokens for sessions a bench wrote straight into a database: signed with the server's secret
 * as Tessera signs them, so the server takes them as its own.
 */
import { randomUUID } from 'node:crypto';
import { hmacKeyRing } from '../src/tokens/keys.js';
import { createTokenService } from '../src/tokens/token-service.js';

/** A session a bench wrote, and what its tokens need. */
export interface BenchSession {
  id: string;
  userId: string;
  refreshJti: string;
  /** Epoch milliseconds, as stored. */
  expiresAt: number;
}

/** Signers for `secret`'s tokens, issued now (refresh tokens an hour ago, as the sessions were written). */
export function sessionTokens(secret: string) {
  const service = createTokenService({ keys: hmacKeyRing(secret), issuer: 'tessera', leewaySeconds: 0 });
  const now = Math.floor(Date.now() / 1000);
  return {
    access: (s: BenchSession) =>
      service.sign({
        sub: s.userId,
        jti: randomUUID(),
        sid: s.id,
        type: 'access',
        iat: now,
        exp: now + 3600,
        fresh: false,
        roles: [],
        aal: 1,
        amr: ['pwd'],
      }),
    refresh: (s: BenchSession) =>
      service.sign({
        sub: s.userId,
        jti: s.refreshJti,
        sid: s.id,
        type: 'refresh',
        iat: now - 3600,
        exp: Math.floor(s.expiresAt / 1000),
      }),
  };
}
