/**
 * Which web origins Tessera trusts: its own (PUBLIC_URL's) and those listed in CORS_ORIGINS.
 * They decide whether an unsafe cookie request is same-party, and where `return_to` may lead.
 */
import type { FastifyRequest } from 'fastify';

export interface TrustedOrigins {
  /** PUBLIC_URL's origin first, then CORS_ORIGINS. */
  readonly list: readonly string[];
  /** Whether the request comes from a trusted page (Origin), or same-origin (Sec-Fetch-Site). */
  allowsRequest(request: FastifyRequest): boolean;
  /** `returnTo` when it is a path on this service or a URL on a trusted origin; else undefined. */
  safeReturn(returnTo: unknown): string | undefined;
}

export function trustedOrigins(publicUrl: string, corsOrigins: readonly string[]): TrustedOrigins {
  const own = new URL(publicUrl).origin;
  const list = [own, ...corsOrigins.filter((origin) => origin !== own)];
  const set = new Set(list);
  return {
    list,
    allowsRequest(request) {
      const origin = request.headers.origin;
      // A page with `Referrer-Policy: no-referrer` (ours) posts its forms with `Origin: null`;
      // then the browser's own Sec-Fetch-Site says whether the form was ours.
      if (typeof origin === 'string' && origin !== 'null') return set.has(origin);
      return request.headers['sec-fetch-site'] === 'same-origin';
    },
    safeReturn: (returnTo) => safeReturnTo(returnTo, own, set),
  };
}

/**
 * An absolute URL on a trusted origin, or a path on our own. Resolving against our origin and
 * comparing origins catches `//evil`, `/\evil`, `https:evil`, `javascript:` and credentials tricks:
 * whatever the browser would make of the text, the URL parser makes the same.
 */
export function safeReturnTo(returnTo: unknown, own: string, trusted: ReadonlySet<string>): string | undefined {
  if (typeof returnTo !== 'string' || returnTo === '' || returnTo.length > 2048) return undefined;
  // Browsers strip tabs and newlines from URLs and treat `\` as `/`: refuse rather than guess.
  if ([...returnTo].some((char) => char === '\\' || char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f)) {
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(returnTo, own);
  } catch {
    return undefined;
  }
  if (url.username !== '' || url.password !== '') return undefined;
  return trusted.has(url.origin) ? url.href : undefined;
}
