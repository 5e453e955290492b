/**
 * Principals of access tokens already verified and looked up, keyed by the token text, so a
 * repeated token costs neither a signature check nor a store lookup. An entry is used only while
 * nothing it depends on has changed since it was read (its user's sessions and record, its token
 * id: the store's generation log says what changed), its token has not expired, and the key ring
 * is the one it was verified with. The cache reads the generation itself, so its callers only
 * say how to load a principal it does not have.
 */
import type { Generation, GenerationSource } from '../store/types.js';
import type { Principal } from './types.js';

/**
 * Entries are found by the token's last characters (its signature's) and then compared whole:
 * hashing a whole token for the map cost a tenth of a request, profiled.
 */
const KEY_LENGTH = 32;

export interface AccessCacheOptions {
  generation: GenerationSource;
  /** How many principals to keep; 0 turns the cache off (every call loads). */
  maxEntries: number;
  /** Whether a principal's token has expired now, by the token service's rule. */
  expired(principal: Principal): boolean;
}

export class AccessCache {
  private readonly entries = new Map<string, { token: string; principal: Principal }>();
  private generation = -1;

  constructor(private readonly o: AccessCacheOptions) {}

  /**
   * The principal for `token`: from memory while still good, else from `load`. What `load`
   * returns is kept only if it is an access token's (refresh tokens are checked against state
   * that rotation changes) and nothing changed while it loaded.
   */
  async resolve(token: string, load: () => Promise<Principal>): Promise<Principal> {
    if (this.o.maxEntries === 0) return load();
    // Observed after the request arrived: a write committed before it is counted.
    const generation = await this.o.generation.observe();
    const hit = this.get(token, generation);
    if (hit) return hit;
    const principal = await load();
    if (principal.claims.type === 'access') this.set(token, principal, generation.value);
    return principal;
  }

  /** After a key rotation: tokens of a retired key must be verified (and refused) again. */
  clear(): void {
    this.entries.clear();
  }

  private get(token: string, generation: Generation): Principal | undefined {
    if (generation.value > this.generation) this.advance(generation);
    // Lower than seen before: a read overtaken by a newer one, or a database restored from a
    // backup, whose world the entries may not belong to. Drop them, and keep the highest value so
    // that nothing loaded at a lower one is kept either (after a restore, restart the instances).
    else if (generation.value < this.generation) {
      this.entries.clear();
      return undefined;
    }
    const key = token.slice(-KEY_LENGTH);
    const entry = this.entries.get(key);
    if (entry === undefined || entry.token !== token) return undefined;
    if (this.o.expired(entry.principal)) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.principal;
  }

  /** Keeps what was loaded at `generation`, unless a newer generation was seen meanwhile. */
  private set(token: string, principal: Principal, generation: number): void {
    if (generation !== this.generation) return;
    if (this.entries.size >= this.o.maxEntries) this.entries.delete(this.entries.keys().next().value ?? '');
    this.entries.set(token.slice(-KEY_LENGTH), { token, principal });
  }

  /**
   * Moves to a newer generation: entries of users whose sessions or records changed, and of
   * revoked tokens, go; when what changed is not known, all go.
   */
  private advance(generation: Generation): void {
    const changed = this.generation < 0 ? undefined : generation.changedSince(this.generation);
    if (changed === undefined) {
      this.entries.clear();
    } else if (changed.size > 0) {
      for (const [key, { principal }] of this.entries) {
        if (changed.has(principal.user.id) || changed.has(principal.claims.jti)) this.entries.delete(key);
      }
    }
    this.generation = generation.value;
  }
}
