/**
 * How much mail one address may receive: at most one per MAIL_MIN_INTERVAL and
 * MAIL_PER_ADDRESS_PER_HOUR an hour (fixed windows, counted in the shared counter store), so
 * nobody can use Tessera to flood a mailbox. Past either, the caller answers as usual and
 * sends nothing.
 */
import type { Clock } from '../clock.js';
import type { MailConfig } from '../config.js';
import type { CounterStore } from '../store/types.js';

export class MailLimits {
  constructor(
    private readonly counters: CounterStore,
    private readonly config: Pick<MailConfig, 'minIntervalSeconds' | 'perAddressPerHour'>,
    private readonly clock: Clock,
  ) {}

  /** Counts one mail to the address (by its identity key) and says whether it may go. */
  async allow(emailKey: string): Promise<boolean> {
    const now = this.clock.now();
    // Counted first, checked after: of two requests at once, only one can pass.
    const [interval, hour] = await Promise.all([
      this.counters.hit(`mail:interval:${emailKey}`, this.config.minIntervalSeconds * 1000, now),
      this.counters.hit(`mail:hour:${emailKey}`, 3600 * 1000, now),
    ]);
    return interval.count <= 1 && hour.count <= this.config.perAddressPerHour;
  }
}
