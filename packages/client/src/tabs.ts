/**
 * One refresh for all the tabs of an origin. Reading localStorage right after another tab
 * wrote it can return the old value (each tab may have its own process), so waiting for a lock
 * and then reading is not enough. Instead one tab leads (it holds a Web Lock for its lifetime;
 * when it closes, another takes over): every refresh runs in the leader, which reads its own
 * writes at once; the others ask it over a BroadcastChannel and wait for its answer. A message
 * on one channel keeps its sender's order, so a session stored by a follower reaches the leader
 * before that follower's request to refresh it.
 */
export interface Refresher {
  /** Refreshes the session `seenExpiresAt` belongs to, unless it was refreshed meanwhile. */
  refresh(seenExpiresAt: number | undefined): Promise<void>;
}

interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}
interface LocksLike {
  request(name: string, callback: () => Promise<unknown>): Promise<unknown>;
}

type Message =
  | { kind: 'refresh'; id: string; seen: number | undefined }
  | { kind: 'done'; id: string; error?: { status: number; code: string; message: string } };

/** In one page or process: calls that overlap share one refresh. */
export function localRefresher(current: () => number | undefined, run: () => Promise<void>): Refresher {
  let inflight: Promise<void> | undefined;
  return {
    refresh(seen) {
      if (inflight) return inflight;
      if (seen !== undefined && current() !== seen) return Promise.resolve();
      inflight = run().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
  };
}

/** Across tabs, when the browser has Web Locks and BroadcastChannel; else undefined. */
export function tabsRefresher(
  name: string,
  local: Refresher,
  toError: (error: NonNullable<Extract<Message, { kind: 'done' }>['error']>) => Error,
): Refresher | undefined {
  const scope = globalThis as unknown as {
    navigator?: { locks?: LocksLike };
    BroadcastChannel?: new (n: string) => ChannelLike;
  };
  const locks = scope.navigator?.locks;
  if (!locks || !scope.BroadcastChannel) return undefined;
  const channel = new scope.BroadcastChannel(`${name}:refresh`);
  let leading = false;
  void locks.request(`${name}:leader`, () => {
    leading = true;
    return new Promise(() => {}); // held while this tab lives
  });
  const waiting = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  channel.addEventListener('message', ({ data }) => {
    const message = data as Message;
    if (message.kind === 'refresh' && leading) {
      local.refresh(message.seen).then(
        () => channel.postMessage({ kind: 'done', id: message.id } satisfies Message),
        (error: { status?: number; code?: string; message?: string }) =>
          channel.postMessage({
            kind: 'done',
            id: message.id,
            error: {
              status: error.status ?? 500,
              code: error.code ?? 'unknown',
              message: error.message ?? 'refresh failed',
            },
          } satisfies Message),
      );
    } else if (message.kind === 'done') {
      const waiter = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) waiter?.reject(toError(message.error));
      else waiter?.resolve();
    }
  });
  return {
    refresh(seen) {
      if (leading) return local.refresh(seen);
      const id = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
      return new Promise<void>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        channel.postMessage({ kind: 'refresh', id, seen } satisfies Message);
      });
    },
  };
}
