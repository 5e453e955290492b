/** Chooses the key ring for the configured algorithm: SECRET_KEY for HS256, the key directory otherwise. */
import type { Config } from '../config.js';
import { type KeyRingOptions, keyRingVersion, openKeyRing, rotateKeyRing } from './key-ring-store.js';
import { hmacKeyRing, type KeyRing } from './keys.js';

function ringOptions(config: Config): KeyRingOptions | undefined {
  const algorithm = config.jwt.algorithm;
  if (algorithm === 'HS256') return undefined;
  return { dir: config.jwt.keysDir, algorithm, maxTokenLifetimeMs: config.jwt.refreshTtlSeconds * 1000 };
}

export function loadKeys(config: Config, now: number): KeyRing {
  const options = ringOptions(config);
  return options ? openKeyRing(options, now) : hmacKeyRing(config.secretKey);
}

/** A cheap token that changes whenever the key ring on disk does (0 for HS256). */
export function keysVersion(config: Config): number {
  return config.jwt.algorithm === 'HS256' ? 0 : keyRingVersion(config.jwt.keysDir);
}

export function rotateKeys(config: Config, now: number): { kid: string; dropped: number } {
  const options = ringOptions(config);
  if (!options)
    throw new Error('Key rotation is for JWT_ALGORITHM=EdDSA, ES256 or RS256; with HS256, change SECRET_KEY.');
  return rotateKeyRing(options, now);
}
