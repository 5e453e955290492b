/**
 * One-time tokens for mailed links: 256 random bits, URL-safe, and known to the database only
 * by their SHA-256 (a leaked table reveals no usable link; the token's own entropy makes a
 * plain hash enough, no salt or slow hash needed).
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../crypto/digest.js';

/** base64url of 32 bytes: 43 characters. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function newLinkToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashLinkToken(token) };
}

export function hashLinkToken(token: string): string {
  return sha256Hex(token);
}

/** Whether `token` could be one of ours; anything else is refused without a lookup. */
export function looksLikeLinkToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}
