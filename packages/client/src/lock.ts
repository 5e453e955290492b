/**
 * One refresh at a time: across tabs with the Web Locks API where the browser has it, else
 * within this page or process. Whoever gets the lock second finds the session already refreshed.
 */
export type Lock = <T>(name: string, work: () => Promise<T>) => Promise<T>;

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

export function defaultLock(): Lock {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (locks) return (name, work) => locks.request(name, work);
  const tails = new Map<string, Promise<unknown>>();
  return (name, work) => {
    const previous = tails.get(name) ?? Promise.resolve();
    const next = previous.then(work, work);
    tails.set(
      name,
      next.catch(() => undefined),
    );
    return next;
  };
}
