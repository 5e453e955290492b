/**
 * The Tessera client: typed calls generated from Tessera's OpenAPI document (openapi-fetch over
 * openapi-typescript's `paths`), and a session it keeps. It refreshes ahead of expiry and once
 * on `token_expired`; every refresh, in the page and across tabs, goes through one lock, and
 * whoever takes it second finds the session already refreshed: a rotating refresh token is
 * never presented twice, so reuse detection never ends the session by mistake.
 */
import createClient from 'openapi-fetch';
import { defaultLock, type Lock } from './lock.js';
import type { paths } from './schema.js';
import { localStorageStore, memoryStore, type SessionStore, type StoredSession } from './session-store.js';
import { localRefresher, tabsRefresher } from './tabs.js';

export interface TesseraClientOptions {
  /** Tessera's PUBLIC_URL. */
  baseUrl: string;
  /** `cookie`: the tokens stay in HttpOnly cookies (Tessera's own origin or a CORS_ORIGINS one). */
  transport?: 'body' | 'cookie';
  /** Default: localStorage in a browser (shared by tabs), memory elsewhere. */
  store?: SessionStore;
  fetch?: typeof fetch;
  /** Refresh this long before the access token expires. */
  refreshMarginSeconds?: number;
  lock?: Lock;
  /** Coordinate refreshes with the other tabs (default: when the default localStorage store is used). */
  shareAcrossTabs?: boolean;
}

export type SessionEndReason = 'logout' | 'revoked' | 'expired';

export class TesseraError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TesseraError';
  }
}

type LoginBody = { username: string; password: string } | { email: string; password: string };
export type LoginOutcome = { status: 'signed_in' } | { status: 'mfa_required'; mfaToken: string; expiresIn: number };
type Answer<T> = { data?: T; error?: unknown; response: Response };

function failure(answer: { error?: unknown; response: Response }): TesseraError {
  const body = (answer.error ?? {}) as { error?: string; message?: string };
  return new TesseraError(
    answer.response.status,
    body.error ?? 'unknown',
    body.message ?? `HTTP ${answer.response.status}`,
  );
}

function unwrap<T>(answer: Answer<T>): T {
  if (answer.data === undefined) throw failure(answer);
  return answer.data;
}

function defaultStore(): SessionStore {
  const storage = (globalThis as { localStorage?: Parameters<typeof localStorageStore>[0] }).localStorage;
  return storage ? localStorageStore(storage) : memoryStore();
}

export function createTesseraClient(options: TesseraClientOptions) {
  const cookie = options.transport === 'cookie';
  const store = options.store ?? defaultStore();
  const lock = options.lock ?? defaultLock();
  const margin = (options.refreshMarginSeconds ?? 30) * 1000;
  const doFetch = options.fetch ?? ((input: Request) => fetch(input));
  const listeners = new Set<(reason: SessionEndReason) => void>();
  const api = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/$/, ''),
    fetch: doFetch,
    ...(cookie ? { credentials: 'include' as const } : {}),
  });

  const end = (reason: SessionEndReason) => {
    store.set(undefined);
    for (const listener of listeners) listener(reason);
  };

  const keep = (answer: {
    access_token?: string;
    refresh_token?: string;
    csrf_token?: string;
    expires_in: number;
  }): void => {
    store.set({
      accessToken: answer.access_token,
      refreshToken: answer.refresh_token,
      csrfToken: answer.csrf_token,
      expiresAt: Date.now() + answer.expires_in * 1000,
    });
  };

  const credentials = (session: StoredSession | undefined): Record<string, string> => {
    if (!session) return {};
    if (cookie) return session.csrfToken ? { 'x-csrf-token': session.csrfToken } : {};
    return session.accessToken ? { authorization: `Bearer ${session.accessToken}` } : {};
  };

  /** One refresh request, for the session stored now. */
  const refreshNow = async (): Promise<void> => {
    const current = store.get();
    if (!current) throw new TesseraError(401, 'authorization_required', 'There is no session.');
    const answer = cookie
      ? await api.POST('/auth/refresh', { body: { transport: 'cookie' }, headers: credentials(current) })
      : await api.POST('/auth/refresh', { body: { refresh_token: current.refreshToken } });
    if (answer.data === undefined) {
      const error = failure(answer);
      if (error.status === 401) end(error.code === 'token_expired' ? 'expired' : 'revoked');
      throw error;
    }
    keep(answer.data as Parameters<typeof keep>[0]);
  };
  // Overlapping refreshes share one request; across tabs, the leading tab makes it.
  const local = localRefresher(
    () => store.get()?.expiresAt,
    () => lock('tessera-refresh', refreshNow),
  );
  const shared =
    options.store === undefined || options.shareAcrossTabs
      ? tabsRefresher('tessera', local, (e) => new TesseraError(e.status, e.code, e.message))
      : undefined;
  /**
   * Refreshes the session `seen` was read from, unless someone (another call, another tab) has
   * refreshed it meanwhile: then the session they stored is the one to use.
   */
  const refresh = (seen: StoredSession | undefined = store.get()): Promise<void> =>
    (shared ?? local).refresh(seen?.expiresAt);

  /** The session to call with, refreshed first when it is about to expire. */
  const fresh = async (): Promise<StoredSession | undefined> => {
    const session = store.get();
    if (session && session.expiresAt - margin <= Date.now()) await refresh(session);
    return store.get();
  };

  /** A call that needs the session: retried once after a refresh when the token had expired. */
  const authed = async <T>(call: (headers: Record<string, string>) => Promise<Answer<T>>): Promise<T> => {
    const session = await fresh();
    let answer = await call(credentials(session));
    if (answer.response.status === 401 && (answer.error as { error?: string } | undefined)?.error === 'token_expired') {
      await refresh(session);
      answer = await call(credentials(store.get()));
    }
    if (answer.response.status === 401) {
      const code = (answer.error as { error?: string } | undefined)?.error;
      if (code === 'token_revoked') end('revoked');
    }
    return unwrap(answer);
  };

  const signedIn = (data: unknown): LoginOutcome => {
    const body = data as {
      mfa_required?: boolean;
      mfa_token?: string;
      expires_in: number;
      tokens?: Parameters<typeof keep>[0];
      csrf_token?: string;
    };
    if (body.mfa_required && body.mfa_token)
      return { status: 'mfa_required', mfaToken: body.mfa_token, expiresIn: body.expires_in };
    keep(body.tokens ?? (body as Parameters<typeof keep>[0]));
    return { status: 'signed_in' };
  };

  return {
    /** The typed API itself, for anything not wrapped here. */
    api,
    register: async (body: { username: string; email: string; password: string }) =>
      unwrap(await api.POST('/auth/register', { body })),
    login: async (body: LoginBody): Promise<LoginOutcome> =>
      signedIn(
        unwrap(
          await api.POST('/auth/login', { body: { ...body, ...(cookie ? { transport: 'cookie' as const } : {}) } }),
        ),
      ),
    /** The second step, with the code from the authenticator app or a recovery code. */
    verifyMfa: async (mfaToken: string, factor: { code: string } | { recovery_code: string }): Promise<LoginOutcome> =>
      signedIn(
        unwrap(
          await api.POST('/auth/mfa/verify', {
            body: { mfa_token: mfaToken, ...factor, ...(cookie ? { transport: 'cookie' as const } : {}) },
          }),
        ),
      ),
    whoami: () => authed((headers) => api.GET('/auth/whoami', { headers })),
    sessions: () => authed((headers) => api.GET('/auth/sessions', { headers })),
    endSession: (id: string) =>
      authed((headers) => api.DELETE('/auth/sessions/{id}', { params: { path: { id } }, headers })),
    changePassword: (body: { current_password: string; new_password: string }) =>
      authed((headers) => api.POST('/auth/password', { body, headers })),
    forgotPassword: async (email: string) => unwrap(await api.POST('/auth/password/forgot', { body: { email } })),
    resetPassword: async (token: string, newPassword: string) =>
      unwrap(await api.POST('/auth/password/reset', { body: { token, new_password: newPassword } })),
    async logout(scope: 'local' | 'others' | 'global' = 'local') {
      const result = await authed((headers) => api.POST('/auth/logout', { body: { scope }, headers }));
      if (scope !== 'others') end('logout');
      return result;
    },
    /** Refreshes now (shared with any refresh already under way, here or in another tab). */
    refresh: () => refresh(),
    /** A fetch for the team's own APIs: the access token as Bearer, fresh, retried once on expiry. */
    async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
      const send = (session: StoredSession | undefined) =>
        fetch(input, {
          ...init,
          headers: { ...Object.fromEntries(new Headers(init.headers)), ...(cookie ? {} : credentials(session)) },
        });
      const session = await fresh();
      const response = await send(session);
      if (response.status !== 401) return response;
      await refresh(session);
      return send(store.get());
    },
    /** The current access token (body mode), refreshed first when about to expire. */
    accessToken: async () => (await fresh())?.accessToken,
    get signedIn(): boolean {
      return store.get() !== undefined;
    },
    /** Told when the session ends: logout, revoked elsewhere (or by reuse detection), expired. */
    onSessionEnd(listener: (reason: SessionEndReason) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export type TesseraClient = ReturnType<typeof createTesseraClient>;
