/**
 * Asymmetric signing keys kept in a directory: one PKCS#8 PEM per key and `keyring.json` saying
 * which algorithm each is for and when it was created and retired. The newest key signs; a
 * retired key still verifies (and stays in the JWKS) until every token it can have signed has
 * expired, then it is dropped. Rotation only ever adds a key, so no valid token is refused.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JwtAlgorithm } from '../config.js';
import type { KeyRing, PublicJwk, VerificationKey } from './keys.js';

export type AsymmetricAlgorithm = Exclude<JwtAlgorithm, 'HS256'>;

interface StoredKey {
  kid: string;
  alg: AsymmetricAlgorithm;
  createdAt: number;
  retiredAt: number | null;
}

export interface KeyRingOptions {
  dir: string;
  algorithm: AsymmetricAlgorithm;
  /** The longest any token lives: a retired key is kept this long after retirement. */
  maxTokenLifetimeMs: number;
}

const INDEX = 'keyring.json';

function generate(alg: AsymmetricAlgorithm): { privatePem: string; publicJwk: JsonWebKey } {
  const pair =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicJwk: pair.publicKey.export({ format: 'jwk' }),
  };
}

/** RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order. */
export function thumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : jwk.kty === 'EC'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function readIndex(dir: string): StoredKey[] {
  const file = join(dir, INDEX);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StoredKey[]) : [];
}

function writeIndex(dir: string, keys: StoredKey[]): void {
  const temporary = join(dir, `${INDEX}.${process.pid}.tmp`);
  writeFileSync(temporary, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, join(dir, INDEX)); // atomic: readers never see half a file
}

function addKey(dir: string, keys: StoredKey[], alg: AsymmetricAlgorithm, now: number): StoredKey[] {
  const { privatePem, publicJwk } = generate(alg);
  const kid = thumbprint(publicJwk);
  writeFileSync(join(dir, `${kid}.pem`), privatePem, { mode: 0o600 });
  const retired = keys.map((k) => (k.retiredAt === null ? { ...k, retiredAt: now } : k));
  return [...retired, { kid, alg, createdAt: now, retiredAt: null }];
}

/** Drops keys that can no longer have a live token, and their files. */
function prune(dir: string, keys: StoredKey[], options: KeyRingOptions, now: number): StoredKey[] {
  const keep = keys.filter((k) => k.retiredAt === null || k.retiredAt + options.maxTokenLifetimeMs > now);
  for (const gone of keys.filter((k) => !keep.includes(k))) rmSync(join(dir, `${gone.kid}.pem`), { force: true });
  return keep;
}

/**
 * Opens the ring, making its first key when there is none, or a new one when the configured
 * algorithm changed (the old algorithm's tokens are then refused, as configured).
 */
export function openKeyRing(options: KeyRingOptions, now: number): KeyRing {
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  let keys = readIndex(options.dir);
  const current = keys.find((k) => k.retiredAt === null);
  if (!current || current.alg !== options.algorithm) {
    keys = prune(options.dir, addKey(options.dir, keys, options.algorithm, now), options, now);
    writeIndex(options.dir, keys);
  }
  return toKeyRing(options, keys, now);
}

/** Makes a new signing key; the previous one keeps verifying until its tokens have expired. */
export function rotateKeyRing(options: KeyRingOptions, now: number): { kid: string; dropped: number } {
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const before = readIndex(options.dir);
  const keys = prune(options.dir, addKey(options.dir, before, options.algorithm, now), options, now);
  writeIndex(options.dir, keys);
  return { kid: keys.at(-1)?.kid ?? '', dropped: before.length + 1 - keys.length };
}

/** When the ring last changed, for a cheap "has anyone rotated?" check. */
export function keyRingVersion(dir: string): number {
  const file = join(dir, INDEX);
  return existsSync(file) ? statSync(file).mtimeMs : 0;
}

function toKeyRing(options: KeyRingOptions, stored: StoredKey[], now: number): KeyRing {
  const usable = stored.filter(
    (k) => k.alg === options.algorithm && (k.retiredAt === null || k.retiredAt + options.maxTokenLifetimeMs > now),
  );
  const signingEntry = usable.find((k) => k.retiredAt === null);
  if (!signingEntry) throw new Error(`The key ring in ${options.dir} has no current ${options.algorithm} key.`);
  const verification: VerificationKey[] = [];
  const jwks: PublicJwk[] = [];
  let signingPem = '';
  for (const entry of usable) {
    const privatePem = readFileSync(join(options.dir, `${entry.kid}.pem`), 'utf8');
    const publicKey = createPublicKey(createPrivateKey(privatePem));
    verification.push({
      kid: entry.kid,
      algorithm: entry.alg,
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    const jwk = publicKey.export({ format: 'jwk' });
    jwks.push({ ...jwk, kty: jwk.kty ?? '', kid: entry.kid, alg: entry.alg, use: 'sig' });
    if (entry === signingEntry) signingPem = privatePem;
  }
  return {
    signing: { kid: signingEntry.kid, algorithm: signingEntry.alg, privateKey: signingPem },
    verification,
    jwks,
  };
}
