/** Where the client keeps its session: memory (Node, or one tab), or localStorage (shared by tabs). */
export interface StoredSession {
  /** Absent in cookie mode: the tokens are HttpOnly cookies there. */
  accessToken?: string;
  refreshToken?: string;
  /** Cookie mode: sent back as X-CSRF-Token. */
  csrfToken?: string;
  /** When the access token expires (ms); changes with every refresh, so it tells tabs apart. */
  expiresAt: number;
}

export interface SessionStore {
  get(): StoredSession | undefined;
  set(session: StoredSession | undefined): void;
}

export function memoryStore(): SessionStore {
  let session: StoredSession | undefined;
  return {
    get: () => session,
    set: (next) => {
      session = next;
    },
  };
}

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Shared by every tab of the origin, so one tab's refresh serves them all. */
export function localStorageStore(storage: StorageLike, key = 'tessera.session'): SessionStore {
  return {
    get() {
      const raw = storage.getItem(key);
      if (raw === null) return undefined;
      try {
        return JSON.parse(raw) as StoredSession;
      } catch {
        return undefined;
      }
    },
    set(next) {
      if (next === undefined) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(next));
    },
  };
}
