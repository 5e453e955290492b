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

/** The window of `windowMs` that contains `now`, for the counter `key`. */
export function windowOf(key: string, windowMs: number, now: number): RateWindow {
  const index = Math.floor(now / windowMs);
  return { windowKey: `${key}@${index}`, resetAt: (index + 1) * windowMs };
}
