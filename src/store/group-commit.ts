/**
 * Group commit: calls that arrive while a commit is under way wait and then commit together, in
 * one transaction of their own. Under load one fsync (SQLite) or one commit (PostgreSQL) serves a
 * whole batch; alone, a call commits at the next turn of the event loop. No caller hears its
 * result before the transaction that holds its write has committed. The same serves a hot read:
 * lookups that arrive together share one statement, each made after its caller arrived.
 */
export function groupCommit<T, R>(commit: (items: readonly T[]) => Promise<readonly R[]>): (item: T) => Promise<R> {
  interface Waiting {
    item: T;
    resolve: (result: R) => void;
    reject: (error: unknown) => void;
  }
  let waiting: Waiting[] = [];
  let busy = false;
  let scheduled = false;

  const drain = async () => {
    busy = true;
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      try {
        const results = await commit(batch.map((w) => w.item));
        batch.forEach((w, i) => {
          w.resolve(results[i] as R);
        });
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    busy = false;
  };

  return (item) =>
    new Promise<R>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      if (busy || scheduled) return;
      scheduled = true;
      // One turn of the event loop, so requests read in the same turn share the commit.
      setImmediate(() => {
        scheduled = false;
        if (!busy) void drain();
      });
    });
}
