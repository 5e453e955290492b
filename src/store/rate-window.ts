/**
 * Fixed windows for rate-limit counters, the same on every engine that counts (the database's
 * table and Redis), so a limit means the same wherever it is counted.
 */
export interface RateWindow {
  /** The counter's name for this window: `key@index`. */
  windowKey: string;
  /** When this window ends and counting starts again from zero (epoch ms). */
  resetAt: number;
}

/**
 * The window of `windowMs` that contains `now`, for the counter `key`. A lone surrogate (a JSON
 * body can carry one into a username) becomes U+FFFD here, as every driver would make it on the
 * way to the store: the name a batch's upsert returns is then the name it was asked to count.
 */
export function windowOf(key: string, windowMs: number, now: number): RateWindow {
  const index = Math.floor(now / windowMs);
  return { windowKey: `${key.toWellFormed()}@${index}`, resetAt: (index + 1) * windowMs };
}
