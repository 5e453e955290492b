/**
 * Password hashing. argon2id runs on libuv's thread pool, so a login never blocks the event loop.
 * Hash strings are PHC-formatted and carry their own parameters, so raising the parameters later
 * only needs `needsRehash` at the next successful login.
 */
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import pLimit from 'p-limit';
import type { Telemetry } from './telemetry.js';

export interface Argon2Params {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
  /**
   * Hashes allowed to run at once; the rest wait their turn. argon2 runs on libuv's pool (4
   * threads by default): on a small machine four concurrent hashes starve the event loop of a
   * core, and every authenticated request waits behind them. Capping hashes below the core count
   * keeps one core for requests (and bounds the 19 MiB each hash holds).
   */
  concurrency: number;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a hash this service cannot read; never throws for either. */
  verify(storedHash: string, password: string): Promise<boolean>;
  /** Runs a full verification against a fixed hash so that an unknown user costs what a known one does. */
  verifyDummy(password: string): Promise<void>;
  needsRehash(storedHash: string): boolean;
  /** Whether this service can verify the stored hash at all (argon2 or a known legacy format). */
  canVerify(storedHash: string): boolean;
  /** Hashes waiting for a free slot (HASH_CONCURRENCY). */
  queued(): number;
}

/** A verifier for hashes made by another system (Werkzeug's, for users imported from Flask). */
export interface LegacyVerifier {
  accepts(storedHash: string): boolean;
  verify(storedHash: string, password: string): Promise<boolean>;
}

export async function createPasswordHasher(
  params: Argon2Params,
  legacy: readonly LegacyVerifier[] = [],
  timed: Pick<Telemetry, 'hashed'> | undefined = undefined,
): Promise<PasswordHasher> {
  const options = {
    type: argon2.argon2id,
    memoryCost: params.memoryKiB,
    timeCost: params.iterations,
    parallelism: params.parallelism,
  } as const;
  const dummyHash = await argon2.hash(randomBytes(32).toString('base64url'), options);
  // p-limit rather than a hand-written gate: the same FIFO queue, with the counts metrics need.
  const gate = pLimit(params.concurrency);
  // Timed inside the gate: the figure is argon2's cost, not the wait for a slot.
  const limited = <T>(operation: 'hash' | 'verify', run: () => Promise<T>): Promise<T> =>
    timed === undefined
      ? gate(run)
      : gate(async () => {
          const started = performance.now();
          try {
            return await run();
          } finally {
            timed.hashed(operation, (performance.now() - started) / 1000);
          }
        });

  const verifyArgon2 = async (storedHash: string, password: string): Promise<boolean> => {
    try {
      return await limited('verify', () => argon2.verify(storedHash, password));
    } catch {
      return false;
    }
  };

  return {
    hash: (password) => limited('hash', () => argon2.hash(password, options)),
    queued: () => gate.pendingCount,
    async verify(storedHash, password) {
      if (storedHash.startsWith('$argon2')) return verifyArgon2(storedHash, password);
      const verifier = legacy.find((candidate) => candidate.accepts(storedHash));
      return verifier ? verifier.verify(storedHash, password) : false;
    },
    async verifyDummy(password) {
      await verifyArgon2(dummyHash, password);
    },
    canVerify(storedHash) {
      return storedHash.startsWith('$argon2') || legacy.some((candidate) => candidate.accepts(storedHash));
    },
    needsRehash(storedHash) {
      if (!storedHash.startsWith('$argon2id$')) return true;
      try {
        return argon2.needsRehash(storedHash, options);
      } catch {
        return true;
      }
    },
  };
}
