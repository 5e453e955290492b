/**
 * A 256-bit key for one purpose, derived from SECRET_KEY (or another secret) with HKDF-SHA256:
 * each purpose gets its own key, so a key that leaks from one use opens none of the others.
 */
import { hkdfSync } from 'node:crypto';

export function deriveKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'tessera', `tessera:${purpose}`, 32));
}
