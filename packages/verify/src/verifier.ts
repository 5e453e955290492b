/**
 * `createVerifier`: checks a Tessera access token the way Tessera itself does, in another
 * service. The signature against Tessera's JWKS (cached; fetched again for an unknown `kid`),
 * the algorithm pinned, `iss`, `exp` and the token type; then revocation, by the policy chosen:
 * - `feed`: Tessera's revocation feed; a token whose user changed (or every token, after a gap)
 *   is checked by introspection once; a revoked id is refused. While the feed is down, every
 *   token is introspected: never "accept".
 * - `introspect`: every token is introspected (at once, at a round trip a call).
 * - `none`: signature and expiry only (a logged-out token works until it expires).
 */
import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { VerifyError } from './errors.js';
import { RevocationFeed } from './feed.js';

export interface VerifierOptions {
  /** The `iss` Tessera puts in its tokens (JWT_ISSUER, default `tessera`). */
  issuer: string;
  /** Tessera's JWKS: `<PUBLIC_URL>/.well-known/jwks.json`. */
  jwksUrl: string;
  revocation: 'feed' | 'introspect' | 'none';
  /** A resource-server client (`tessera client create`), needed for `feed` and `introspect`. */
  client?: { id: string; secret: string };
  /** Where Tessera answers; defaults to the JWKS URL's origin. */
  tesseraUrl?: string;
  /** The algorithms Tessera signs with (JWT_ALGORITHM): anything else is refused. */
  algorithms?: string[];
  clockToleranceSeconds?: number;
  fetch?: typeof fetch;
}

export interface Requirement {
  /** Every one of these roles. */
  roles?: readonly string[];
  /** A sign-in with a second factor. */
  aal?: 2;
}

export interface VerifiedToken {
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  roles: string[];
  aal: number;
  amr: string[];
  fresh: boolean;
  claims: JWTPayload;
}

export interface Verifier {
  verify(token: string, requirement?: Requirement): Promise<VerifiedToken>;
  /** With `feed`: resolves when the feed is live (verification works before, by introspection). */
  ready(): Promise<void>;
  close(): void;
}

const LONGEST_ACCESS_TOKEN_SECONDS = 24 * 3600;

export function createVerifier(options: VerifierOptions): Verifier {
  const doFetch = options.fetch ?? fetch;
  const base = (options.tesseraUrl ?? new URL(options.jwksUrl).origin).replace(/\/$/, '');
  // An unknown kid (a rotation) fetches the keys again, at most once a second: tokens with
  // made-up kids cannot turn into a flood of requests to Tessera.
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: 1000 });
  const algorithms = options.algorithms ?? ['EdDSA', 'ES256', 'RS256'];
  if (algorithms.some((alg) => alg.startsWith('HS') || alg === 'none')) {
    throw new Error(
      'Only asymmetric algorithms can be verified outside Tessera (set JWT_ALGORITHM to EdDSA, ES256 or RS256).',
    );
  }
  if (options.revocation !== 'none' && !options.client) {
    throw new Error(`revocation: '${options.revocation}' needs a client: tessera client create NAME`);
  }
  const authorization = options.client
    ? `Basic ${Buffer.from(`${options.client.id}:${options.client.secret}`).toString('base64')}`
    : '';
  const feed =
    options.revocation === 'feed'
      ? new RevocationFeed({
          url: `${base}/auth/revocations`,
          authorization,
          fetch: doFetch,
          memorySeconds: LONGEST_ACCESS_TOKEN_SECONDS,
          now: () => Date.now(),
        })
      : undefined;
  feed?.start();
  /** Tokens introspected as active, and when: a later change of their user checks them again. */
  const checkedAt = new Map<string, { at: number; exp: number }>();
  let sweepAt = 1000;
  /** Remembers a check; now and then forgets checks of tokens that have expired since. */
  const rememberCheck = (jti: string, exp: number) => {
    const now = Math.floor(Date.now() / 1000);
    checkedAt.set(jti, { at: now, exp });
    if (checkedAt.size < sweepAt) return;
    for (const [key, entry] of checkedAt) if (entry.exp < now) checkedAt.delete(key);
    sweepAt = Math.max(1000, checkedAt.size * 2);
  };

  const introspect = async (token: string): Promise<boolean> => {
    let response: Response;
    try {
      response = await doFetch(`${base}/auth/introspect`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
        signal: AbortSignal.timeout(5000),
      });
    } catch {
      throw new VerifyError('unavailable', 'Tessera cannot be reached to check the token.');
    }
    if (response.status !== 200)
      throw new VerifyError('unavailable', `Tessera answered ${response.status} to introspection.`);
    return ((await response.json()) as { active?: unknown }).active === true;
  };

  const signature = async (token: string): Promise<JWTPayload> => {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        algorithms,
        clockTolerance: options.clockToleranceSeconds ?? 5,
      });
      return payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new VerifyError('token_expired', 'The token has expired.');
      if (error instanceof joseErrors.JWKSTimeout || (error instanceof TypeError && /fetch/i.test(error.message))) {
        throw new VerifyError('unavailable', "Tessera's keys cannot be fetched.");
      }
      throw new VerifyError('invalid_token', 'The token is not valid.');
    }
  };

  return {
    async verify(token, requirement = {}) {
      if (!token) throw new VerifyError('authorization_required', 'Send the token as "Authorization: Bearer <token>".');
      const claims = await signature(token);
      if (claims.type !== 'access') throw new VerifyError('invalid_token', 'This needs an access token.');
      const sub = String(claims.sub ?? '');
      const jti = String(claims.jti ?? '');
      const iat = Number(claims.iat ?? 0);
      if (options.revocation === 'introspect') {
        if (!(await introspect(token))) throw new VerifyError('token_revoked', 'The token is no longer active.');
      } else if (feed) {
        // The feed names revoked token ids and ended sessions: either refuses at once.
        if (feed.isRevoked(jti) || feed.isRevoked(String(claims.sid ?? ''))) {
          throw new VerifyError('token_revoked', 'The token has been revoked.');
        }
        const seen = Math.max(iat, checkedAt.get(jti)?.at ?? 0);
        if (!feed.live || feed.needsCheck(sub, seen)) {
          if (!(await introspect(token))) {
            feed.markRevoked(jti);
            throw new VerifyError('token_revoked', 'The token is no longer active.');
          }
          rememberCheck(jti, Number(claims.exp ?? 0));
        }
      }
      const roles = Array.isArray(claims.roles) ? claims.roles.map(String) : [];
      const aal = Number(claims.aal ?? 1);
      for (const role of requirement.roles ?? []) {
        if (!roles.includes(role)) throw new VerifyError('forbidden', `This needs the ${role} role.`);
      }
      if (requirement.aal === 2 && aal !== 2)
        throw new VerifyError('mfa_required', 'This needs a sign-in with a second factor.');
      return {
        sub,
        sid: String(claims.sid ?? ''),
        jti,
        iat,
        exp: Number(claims.exp ?? 0),
        roles,
        aal,
        amr: Array.isArray(claims.amr) ? claims.amr.map(String) : [],
        fresh: claims.fresh === true,
        claims,
      };
    },
    ready: () => feed?.ready() ?? Promise.resolve(),
    close: () => feed?.stop(),
  };
}
