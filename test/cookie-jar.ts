/**
 * A browser's cookie jar, as far as inject tests need one: keeps what Set-Cookie set (a
 * Max-Age of 0 or a past Expires deletes), and sends back what matches a path, as browsers do.
 */
import type { LightMyRequestResponse } from 'fastify';

export interface StoredCookie {
  name: string;
  value: string;
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: string | undefined;
  maxAge: number | undefined;
}

export class CookieJar {
  readonly cookies = new Map<string, StoredCookie>();

  take(response: LightMyRequestResponse): this {
    for (const raw of response.cookies as {
      name: string;
      value: string;
      path?: string;
      httpOnly?: boolean;
      secure?: boolean;
      sameSite?: string;
      maxAge?: number;
      expires?: Date;
    }[]) {
      const gone = raw.maxAge === 0 || (raw.expires !== undefined && raw.expires.getTime() <= Date.now());
      if (gone) {
        this.cookies.delete(raw.name);
        continue;
      }
      this.cookies.set(raw.name, {
        name: raw.name,
        value: raw.value,
        path: raw.path ?? '/',
        httpOnly: raw.httpOnly === true,
        secure: raw.secure === true,
        sameSite: raw.sameSite,
        maxAge: raw.maxAge,
      });
    }
    return this;
  }

  get(name: string): string | undefined {
    return this.cookies.get(name)?.value;
  }

  /** The Cookie header a browser sends to `url`. */
  header(url: string): { cookie: string } | Record<string, never> {
    const path = url.split('?')[0] ?? '/';
    const sent = [...this.cookies.values()].filter(
      (c) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`),
    );
    return sent.length === 0 ? {} : { cookie: sent.map((c) => `${c.name}=${c.value}`).join('; ') };
  }
}
