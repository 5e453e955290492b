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

interface ChannelLike {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}

/**
 * Shared by every tab of the origin, so one tab's refresh serves them all. Another tab's write
 * reaches localStorage here a little later (each tab may run in its own process), so each new
 * session is also announced on a BroadcastChannel, and the newest one seen either way wins.
 */
export function localStorageStore(storage: StorageLike, key = 'tessera.session'): SessionStore {
  const Channel = (globalThis as unknown as { BroadcastChannel?: new (name: string) => ChannelLike }).BroadcastChannel;
  const channel = Channel ? new Channel(key) : undefined;
  let announced: StoredSession | null | undefined;
  if (channel) {
    channel.onmessage = (event) => {
      announced = event.data as StoredSession | null;
    };
  }
  const stored = (): StoredSession | undefined => {
    const raw = storage.getItem(key);
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as StoredSession;
    } catch {
      return undefined;
    }
  };
  return {
    get() {
      const local = stored();
      if (announced === undefined) return local;
      if (announced === null) return undefined;
      return local && local.expiresAt >= announced.expiresAt ? local : announced;
    },
    set(next) {
      if (next === undefined) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(next));
      announced = next ?? null;
      channel?.postMessage(next ?? null);
    },
  };
}
