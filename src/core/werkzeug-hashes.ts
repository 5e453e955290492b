/**
 * Verifies the password hashes Werkzeug wrote for the Flask app, so its users keep their
 * passwords; a successful login then replaces the hash with argon2id.
 *   pbkdf2:sha256:<iterations>$<salt>$<hex>   PBKDF2-HMAC-SHA256 over the salt string, 32 bytes
 *   scrypt:<n>:<r>:<p>$<salt>$<hex>           scrypt over the salt string, 64 bytes
 */
import { pbkdf2, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { LegacyVerifier } from './password-hasher.js';

const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: string,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

// Bounds on the cost a stored hash can ask for, so a corrupt row cannot stall the thread pool.
const MAX_PBKDF2_ITERATIONS = 5_000_000;
const MAX_SCRYPT_N = 1 << 20;

type Parsed =
  | { kind: 'pbkdf2'; iterations: number; salt: string; expected: Buffer }
  | { kind: 'scrypt'; n: number; r: number; p: number; salt: string; expected: Buffer };

const PBKDF2 = /^pbkdf2:sha256:(\d{1,8})\$([^$]{1,128})\$([0-9a-f]{64})$/;
const SCRYPT = /^scrypt:(\d{1,8}):(\d{1,3}):(\d{1,3})\$([^$]{1,128})\$([0-9a-f]{128})$/;

export function parseWerkzeugHash(stored: string): Parsed | undefined {
  const pbkdf2Match = PBKDF2.exec(stored);
  if (pbkdf2Match) {
    const iterations = Number(pbkdf2Match[1]);
    if (iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) return undefined;
    return {
      kind: 'pbkdf2',
      iterations,
      salt: pbkdf2Match[2] ?? '',
      expected: Buffer.from(pbkdf2Match[3] ?? '', 'hex'),
    };
  }
  const scryptMatch = SCRYPT.exec(stored);
  if (scryptMatch) {
    const [n, r, p] = [Number(scryptMatch[1]), Number(scryptMatch[2]), Number(scryptMatch[3])];
    // N must be a power of two above 1.
    if (n < 2 || n > MAX_SCRYPT_N || (n & (n - 1)) !== 0 || r < 1 || p < 1) return undefined;
    return { kind: 'scrypt', n, r, p, salt: scryptMatch[4] ?? '', expected: Buffer.from(scryptMatch[5] ?? '', 'hex') };
  }
  return undefined;
}

export const werkzeugVerifier: LegacyVerifier = {
  accepts: (stored) => parseWerkzeugHash(stored) !== undefined,
  async verify(stored, password) {
    const parsed = parseWerkzeugHash(stored);
    if (!parsed) return false;
    const actual =
      parsed.kind === 'pbkdf2'
        ? await pbkdf2Async(password, parsed.salt, parsed.iterations, 32, 'sha256')
        : await scryptAsync(password, parsed.salt, 64, {
            N: parsed.n,
            r: parsed.r,
            p: parsed.p,
            // Werkzeug passes 132·n·r·p to hashlib; node's default 32 MiB is too small for n=32768.
            maxmem: 132 * parsed.n * parsed.r * parsed.p + 1024 * 1024,
          });
    return actual.length === parsed.expected.length && timingSafeEqual(actual, parsed.expected);
  },
};
