/**
 * Pure parsers for configuration values. Kept apart from config.ts so they can be
 * property-tested without touching the environment or the file system.
 */
import { isAbsolute, resolve } from 'node:path';

export type DatabaseTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * A duration in whole seconds: `900`, `900s`, `15m`, `12h` or `30d`.
 * Returns undefined for anything else (negative, fractional, empty, unknown unit).
 */
export function parseDuration(raw: string): number | undefined {
  const match = /^(\d{1,9})([smhd]?)$/.exec(raw.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = UNIT_SECONDS[match[2] || 's'];
  return unit === undefined ? undefined : amount * unit;
}

/** A whole number within [min, max], written in plain decimal digits. */
export function parseInteger(raw: string, min: number, max: number): number | undefined {
  if (!/^-?\d{1,15}$/.test(raw.trim())) return undefined;
  const value = Number(raw.trim());
  return value >= min && value <= max ? value : undefined;
}

export function parseBoolean(raw: string): boolean | undefined {
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(value)) return false;
  return undefined;
}

/**
 * `DATABASE_URL` in the forms users bring: `sqlite:<path>`, SQLAlchemy's `sqlite:///relative`
 * and `sqlite:////absolute`, or `postgres://` / `postgresql://`. Relative SQLite paths resolve
 * against `cwd`, as the Flask app's did.
 */
export function parseDatabaseUrl(raw: string, cwd: string): DatabaseTarget | undefined {
  const url = raw.trim();
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: 'postgres', url };
  const sqlite = /^sqlite:(.*)$/i.exec(url);
  if (!sqlite) return undefined;
  let path = sqlite[1] ?? '';
  // SQLAlchemy puts an empty authority first: sqlite:///rel.db is relative, sqlite:////abs.db absolute.
  if (path.startsWith('///')) path = path.slice(3);
  // sqlite:// alone is SQLAlchemy's in-memory database, and an authority has no meaning here.
  else if (path.startsWith('//')) return undefined;
  if (path === '' || path === ':memory:') return undefined;
  return { kind: 'sqlite', file: isAbsolute(path) ? path : resolve(cwd, path) };
}

/**
 * Fastify's `trustProxy`: false, true, a hop count, or a comma-separated list of addresses/CIDRs.
 */
export function parseTrustProxy(raw: string): boolean | number | string[] | undefined {
  const value = raw.trim();
  const asBool = parseBoolean(value);
  if (asBool !== undefined) return asBool;
  const hops = parseInteger(value, 1, 100);
  if (hops !== undefined) return hops;
  const list = value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  const addressLike = /^[0-9a-fA-F:.]+(\/\d{1,3})?$/;
  return list.length > 0 && list.every((part) => addressLike.test(part)) ? list : undefined;
}

/**
 * `PUBLIC_URL`: where clients reach Tessera, as an absolute http(s) URL with no credentials,
 * query or fragment. Returned without a trailing slash, so paths can be appended as they are.
 */
export function parsePublicUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username || url.password || url.search || url.hash || !url.hostname) return undefined;
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * `MAIL_FROM`: `address` or `Display Name <address>`, one line, with an address of the usual
 * shape. Returned trimmed.
 */
export function parseMailFrom(raw: string): string | undefined {
  const value = raw.trim();
  if (value.length > 320 || /[\r\n]/.test(value)) return undefined;
  const address = /<([^<>]+)>$/.exec(value)?.[1] ?? value;
  return /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$|^[^\s@<>"]+@localhost$/.test(address) ? value : undefined;
}

/** An origin as browsers send it in `Origin`: scheme, host and any non-default port, nothing else. */
export function parseOrigin(raw: string): string | undefined {
  const value = raw.trim();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  // URL parsers accept `*` in a host name; a pattern must not pass for an origin.
  if (!/^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/i.test(url.hostname)) return undefined;
  // Only the bare origin is accepted, so what an operator writes is exactly what is compared.
  return url.origin === value.replace(/\/$/, '') ? url.origin : undefined;
}

/**
 * `CORS_ORIGINS`: a comma-separated list of exact origins. `*` and patterns are refused: every
 * listed origin gets credentialed access, so each one has to be named.
 */
export function parseOriginList(raw: string): string[] | undefined {
  const parts = raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  const origins = parts.map(parseOrigin);
  if (origins.some((origin) => origin === undefined)) return undefined;
  return [...new Set(origins as string[])];
}

/**
 * `PASSKEY_RP_ID`: the domain passkeys are scoped to. WebAuthn lets it be the page's host or a
 * parent domain of it (`example.com` for `auth.example.com`, so apps on sibling hosts can share
 * the passkeys), never an IP address or another site. Lowercased; undefined if not allowed.
 */
export function parseRpId(raw: string, publicHost: string): string | undefined {
  const id = raw.trim().toLowerCase();
  const host = publicHost.toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(id)) return undefined;
  if (/^[0-9.]+$/.test(id)) return undefined;
  return id === host || host.endsWith(`.${id}`) ? id : undefined;
}

export interface WebhookEndpoint {
  url: string;
  /** The Standard Webhooks secret as given (`whsec_` + base64) and its key bytes. */
  secret: string;
  key: Buffer;
  /** Event types it receives; `*` for all. */
  types: readonly string[] | '*';
}

/**
 * `WEBHOOK_URLS`: endpoints separated by commas or new lines, each `url|secret` or
 * `url|secret|type+type`. The secret is a Standard Webhooks one: `whsec_` and the base64 of at
 * least 24 random bytes. Types are checked against `known`; `*` (or none) means every type.
 */
export function parseWebhookUrls(raw: string, known: readonly string[]): WebhookEndpoint[] | undefined {
  const entries = raw
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter(Boolean);
  const endpoints: WebhookEndpoint[] = [];
  for (const entry of entries) {
    const [url, secret, types, extra] = entry.split('|').map((part) => part.trim());
    if (extra !== undefined || url === undefined || secret === undefined) return undefined;
    if (parsePublicUrl(url) === undefined || /[\s|]/.test(url)) return undefined;
    const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
    const key = match?.[1] ? Buffer.from(match[1], 'base64') : undefined;
    if (!key || key.length < 24) return undefined;
    let chosen: readonly string[] | '*' = '*';
    if (types !== undefined && types !== '' && types !== '*') {
      const list = types.split('+').map((t) => t.trim());
      if (list.some((t) => !known.includes(t))) return undefined;
      chosen = [...new Set(list)];
    }
    endpoints.push({ url: new URL(url).href, secret, key, types: chosen });
  }
  return endpoints;
}
