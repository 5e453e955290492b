/**
 * Signing keys. Every token names its key with `kid`, so a verifier can hold several keys at once
 * and a key can be replaced without refusing the tokens it already signed.
 */
import { createHash, type JsonWebKey } from 'node:crypto';
import type { JwtAlgorithm } from '../config.js';

export interface SigningKey {
  kid: string;
  algorithm: JwtAlgorithm;
  /** The HMAC secret, or a PEM private key. */
  privateKey: string;
}

export interface VerificationKey {
  kid: string;
  algorithm: JwtAlgorithm;
  /** The HMAC secret, or a PEM public key. */
  publicKey: string;
}

/** A public key as published in the JWKS (RFC 7517). */
export interface PublicJwk extends JsonWebKey {
  kid: string;
  kty: string;
  alg: string;
  use: 'sig';
}

export interface KeyRing {
  signing: SigningKey;
  verification: readonly VerificationKey[];
  /** Public keys to publish at /.well-known/jwks.json; never a symmetric secret. */
  jwks: readonly PublicJwk[];
}

/**
 * HS256 from SECRET_KEY. The kid is a digest prefix: it tells keys apart and says nothing
 * usable about a secret of the required length.
 */
export function hmacKeyRing(secret: string): KeyRing {
  const kid = `hs-${createHash('sha256').update(secret).digest('base64url').slice(0, 12)}`;
  return {
    signing: { kid, algorithm: 'HS256', privateKey: secret },
    verification: [{ kid, algorithm: 'HS256', publicKey: secret }],
    jwks: [],
  };
}
