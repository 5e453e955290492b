/**
 * What the core reports as it works, for metrics, without knowing how they are kept. The
 * default does nothing, so the hot path pays nothing when metrics are off.
 */
export type RefreshOutcome = 'rotated' | 'reused_within_window' | 'reuse_detected' | 'too_soon';
export type RevocationSource = 'cache' | 'redis' | 'database';

export interface Telemetry {
  refreshed(outcome: RefreshOutcome): void;
  /** Where an access token's revocation state was read: the verified-token cache, or a store. */
  revocationChecked(source: RevocationSource): void;
  /** One argon2 run (hash or verify) and how long it took, queueing excluded. */
  hashed(operation: 'hash' | 'verify', seconds: number): void;
}
