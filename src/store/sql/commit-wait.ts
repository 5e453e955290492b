/**
 * Where instances check requests against a generation read a few milliseconds old (PostgreSQL:
 * shared-generation.ts), a write that raises the generation returns only `waitMs` after its
 * commit, so that whatever answer its caller gives comes after every instance can see it. These
 * are the store methods whose writes the triggers count (generation-triggers.ts); a test checks
 * that the other writes raise nothing.
 */
import type { DurableRevocationStore, TransactionStores } from '../types.js';

type Write<A extends unknown[], R> = (...args: A) => Promise<R>;

/** `write`, then `after` (awaited before the write returns). */
const followedBy =
  <A extends unknown[], R>(write: Write<A, R>, after: () => Promise<void> | void): Write<A, R> =>
  async (...args) => {
    const result = await write(...args);
    await after();
    return result;
  };

/** `stores` with every raising write followed by `after`. */
export function afterRaisingWrites(stores: TransactionStores, after: () => Promise<void> | void): TransactionStores {
  const then = <A extends unknown[], R>(write: Write<A, R>) => followedBy(write, after);
  const { users, sessions } = stores;
  return {
    ...stores,
    users: {
      ...users,
      replacePasswordHash: then(users.replacePasswordHash),
      update: then(users.update),
      delete: then(users.delete),
      markEmailVerified: then(users.markEmailVerified),
      changeEmail: then(users.changeEmail),
    },
    sessions: { ...sessions, end: then(sessions.end), endAllForUser: then(sessions.endAllForUser) },
  };
}

export function revokeThenWait(revocations: DurableRevocationStore, wait: () => Promise<void>): DurableRevocationStore {
  return { ...revocations, revoke: followedBy(revocations.revoke, wait) };
}

/** Resolves `ms` after it was called by the monotonic clock (a timer alone may fire early by the loop's lag). */
export async function waitFor(ms: number, now: () => number = () => performance.now()): Promise<void> {
  const until = now() + ms;
  for (let left = ms; left > 0; left = until - now()) {
    await new Promise((resolve) => setTimeout(resolve, Math.ceil(left)));
  }
}
