/**
 * Signs and verifies Tessera's JWTs. Verification is synchronous (fast-jwt over node:crypto):
 * on the hot path an async WebCrypto verify cost about three times a whole request.
 * Signature, algorithm and required claims are fast-jwt's job; time windows are checked here
 * against the injected clock, so tests freeze time instead of sleeping.
 */
import { createSigner, createVerifier, TokenError } from 'fast-jwt';
import { AppError } from '../errors.js';
import { onlyStrings } from '../only-strings.js';
import type { TokenClaims, TokenType, UnsignedClaims } from './claims.js';
import type { KeyRing } from './keys.js';

/** Our tokens are a few hundred bytes; anything this large is not one of them. */
const MAX_TOKEN_LENGTH = 8192;
const REQUIRED_CLAIMS = ['sub', 'jti', 'sid', 'type', 'iat', 'exp', 'iss'];
const TOKEN_TYPES: readonly TokenType[] = ['access', 'refresh'];

export interface TokenServiceOptions {
  keys: KeyRing;
  issuer: string;
  leewaySeconds: number;
}

export interface TokenService {
  sign(claims: UnsignedClaims): string;
  /** Throws AppError `invalid_token` or `token_expired`; `nowMs` is the current time. */
  verify(token: string, nowMs: number): TokenClaims;
  /** Whether verified claims have expired by `nowMs` (with the configured leeway), as `verify` decides. */
  hasExpired(claims: TokenClaims, nowMs: number): boolean;
  /** The public keys to publish: empty for HS256. */
  jwks(): KeyRing['jwks'];
  /** Switches to a new key ring (after a rotation); tokens signed by its older keys still verify. */
  useKeys(keys: KeyRing): void;
}

type SyncVerifier = (token: string) => unknown;

const signerFor = ({ signing }: KeyRing) =>
  createSigner({ key: signing.privateKey, algorithm: signing.algorithm, kid: signing.kid });

const invalid = (message: string) => new AppError('invalid_token', message);

export function createTokenService(options: TokenServiceOptions): TokenService {
  const { issuer, leewaySeconds } = options;
  let keys = options.keys;
  let signer = signerFor(keys);
  let verifiers = new Map<string, SyncVerifier>();
  const buildVerifiers = (ring: KeyRing) => {
    const next = new Map<string, SyncVerifier>();
    for (const key of ring.verification) {
      next.set(
        key.kid,
        // A verifier per key, each accepting only its key's algorithm: an HS256 token made with
        // an RSA public key as the secret, or `alg: none`, never reaches a matching verifier.
        verifiers.get(key.kid) ??
          createVerifier({
            key: key.publicKey,
            algorithms: [key.algorithm],
            requiredClaims: REQUIRED_CLAIMS,
            allowedIss: issuer,
            // Time is ours to check (below), with the injected clock.
            ignoreExpiration: true,
            ignoreNotBefore: true,
            // No signature cache here: repeated access tokens are the session service's access
            // cache's to answer, and hashing every token for a cache key cost more than it saved.
          }),
      );
    }
    return next;
  };
  verifiers = buildVerifiers(keys);
  const kidOfHeader = new Map<string, string>();
  const hasExpired = (claims: TokenClaims, nowMs: number) => claims.exp <= Math.floor(nowMs / 1000) - leewaySeconds;

  return {
    jwks: () => keys.jwks,
    useKeys(next) {
      verifiers = buildVerifiers(next);
      signer = signerFor(next);
      keys = next;
    },
    hasExpired,
    sign(claims) {
      // Named one by one: fast-jwt copies the payload by spread, and a spread of a spread copy
      // of `claims` made a token cost 7.8 µs against 5.2 (measured; a refresh signs two).
      const { sub, jti, sid, type, iat, exp, fresh, roles, aal, amr } = claims;
      const payload = { sub, jti, sid, type, iat, exp, fresh, roles, aal, amr, nbf: iat, iss: issuer };
      return signer(payload satisfies Record<keyof TokenClaims, unknown>);
    },
    verify(token, nowMs) {
      if (token.length > MAX_TOKEN_LENGTH) throw invalid('The token is too large.');
      const verifier = verifiers.get(readKid(token, kidOfHeader));
      if (!verifier) throw invalid('The token was not signed by a key this service knows.');
      let payload: unknown;
      try {
        payload = verifier(token);
      } catch (error) {
        throw invalid(describeTokenError(error));
      }
      const claims = asClaims(payload);
      const now = Math.floor(nowMs / 1000);
      if (claims.nbf > now + leewaySeconds) throw invalid('The token is not valid yet.');
      if (claims.iat > now + leewaySeconds) throw invalid('The token was issued in the future.');
      if (hasExpired(claims, nowMs)) throw new AppError('token_expired', 'The token has expired.');
      return claims;
    },
  };
}

const MAX_HEADERS = 64;

/**
 * The `kid` from the protected header, or '' when the header is unreadable or has none.
 * Every token a key signs has the same header segment, so a few memo entries cover all traffic.
 */
function readKid(token: string, kidOfHeader: Map<string, string>): string {
  const dot = token.indexOf('.');
  if (dot <= 0) return '';
  const segment = token.slice(0, dot);
  const known = kidOfHeader.get(segment);
  if (known !== undefined) return known;
  let kid = '';
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (header && typeof header === 'object' && 'kid' in header && typeof header.kid === 'string') kid = header.kid;
  } catch {
    // An unreadable header names no key.
  }
  if (kidOfHeader.size < MAX_HEADERS) kidOfHeader.set(segment, kid);
  return kid;
}

function describeTokenError(error: unknown): string {
  if (!(error instanceof TokenError)) return 'The token could not be verified.';
  switch (error.code) {
    case TokenError.codes.invalidAlgorithm:
      return 'The token is signed with an algorithm this service does not accept.';
    case TokenError.codes.invalidSignature:
    case TokenError.codes.missingSignature:
      return 'The token signature is invalid.';
    case TokenError.codes.missingRequiredClaim:
      return 'The token lacks a required claim.';
    case TokenError.codes.invalidClaimValue:
    case TokenError.codes.invalidClaimType:
      return 'The token has an invalid claim.';
    case TokenError.codes.invalidCritHeader:
      return 'The token has a critical header this service does not understand.';
    default:
      return 'The token is malformed.';
  }
}

function asClaims(payload: unknown): TokenClaims {
  if (!payload || typeof payload !== 'object') throw invalid('The token is malformed.');
  const p = payload as Record<string, unknown>;
  const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 64;
  const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const type = TOKEN_TYPES.find((t) => t === p.type);
  const nbf = p.nbf === undefined ? p.iat : p.nbf;
  if (!isId(p.sub) || !isId(p.jti) || !isId(p.sid) || !type || typeof p.iss !== 'string') {
    throw invalid('The token has an invalid claim.');
  }
  if (!isTime(p.iat) || !isTime(p.exp) || !isTime(nbf)) throw invalid('The token has an invalid claim.');
  const claims: TokenClaims = { sub: p.sub, jti: p.jti, sid: p.sid, type, iat: p.iat, nbf, exp: p.exp, iss: p.iss };
  if (typeof p.fresh === 'boolean') claims.fresh = p.fresh;
  if (Array.isArray(p.roles)) claims.roles = onlyStrings(p.roles);
  if (p.aal === 1 || p.aal === 2) claims.aal = p.aal;
  if (Array.isArray(p.amr)) claims.amr = onlyStrings(p.amr);
  return claims;
}
