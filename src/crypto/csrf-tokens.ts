/**
 * CSRF tokens for cookie sessions: an HMAC of the session id under a key derived from
 * SECRET_KEY. Bound to one session (another session's token never matches), the same on every
 * instance and across refreshes, and unforgeable without the secret, so no table holds them.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from './derive-key.js';

export interface CsrfTokens {
  issue(sessionId: string): string;
  /** Constant-time comparison with the token of `sessionId`. */
  matches(sessionId: string, presented: string): boolean;
}

export function createCsrfTokens(secret: string): CsrfTokens {
  const key = deriveKey(secret, 'csrf');
  const mac = (sessionId: string) => createHmac('sha256', key).update(sessionId).digest();
  return {
    issue: (sessionId) => mac(sessionId).toString('base64url'),
    matches(sessionId, presented) {
      const given = Buffer.from(presented, 'base64url');
      const expected = mac(sessionId);
      // base64url decoding ignores junk characters, so the text must round-trip as well.
      return (
        given.length === expected.length &&
        timingSafeEqual(given, expected) &&
        given.toString('base64url') === presented
      );
    },
  };
}
