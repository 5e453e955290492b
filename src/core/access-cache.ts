/**
 * Principals of access tokens already verified and looked up, keyed by the token text, so a
 * repeated token costs neither a signature check nor a store lookup. An entry is used only while
 * nothing it depends on has changed since it was read (its user's sessions and record, its token
 * id: the store's generation log says what changed), its token has not expired, and the key ring
 * is the one it was verified with. The cache reads the generation itself, so its callers only
 * say how to load a principal it does not have.
 */
import { LRUCache } from 'lru-cache';
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

interface Entry {
  token: string;
  principal: Principal;
}

export class AccessCache {
  /**
   * Least recently used out, by lru-cache: measured against the insertion-order Map it replaced
   * (npm run bench:cache), a hit costs ~20 ns more (about 0.1% of a whoami), and with three
   * times more live tokens than entries, misses (~50 µs each) fell from 17.6% to 14.6%.
   */
  private readonly entries: LRUCache<string, Entry> | undefined;
  private generation = -1;

  constructor(private readonly o: AccessCacheOptions) {
    this.entries = o.maxEntries > 0 ? new LRUCache({ max: o.maxEntries }) : undefined;
  }

  /**
   * The principal for `token`: from memory while still good, else from `load`. What `load`
   * returns is kept only if it is an access token's (refresh tokens are checked against state
   * that rotation changes) and nothing changed while it loaded.
   */
  async resolve(token: string, load: () => Promise<Principal>): Promise<Principal> {
    const entries = this.entries;
    if (entries === undefined) return load();
    // Counts every write whose writer answered before this request arrived.
    const generation = await this.o.generation.recent();
    const hit = this.get(entries, token, generation);
    if (hit) return hit;
    const principal = await load();
    // Kept only if no newer generation was seen while it loaded.
    if (principal.claims.type === 'access' && generation.value === this.generation) {
      entries.set(token.slice(-KEY_LENGTH), { token, principal });
    }
    return principal;
  }

  /** After a key rotation: tokens of a retired key must be verified (and refused) again. */
  clear(): void {
    this.entries?.clear();
  }

  private get(entries: LRUCache<string, Entry>, token: string, generation: Generation): Principal | undefined {
    if (generation.value > this.generation) this.advance(entries, generation);
    // Lower than seen before: a read overtaken by a newer one, or a database restored from a
    // backup, whose world the entries may not belong to. Drop them, and keep the highest value so
    // that nothing loaded at a lower one is kept either (after a restore, restart the instances).
    else if (generation.value < this.generation) {
      entries.clear();
      return undefined;
    }
    const key = token.slice(-KEY_LENGTH);
    const entry = entries.get(key);
    if (entry === undefined || entry.token !== token) return undefined;
    if (this.o.expired(entry.principal)) {
      entries.delete(key);
      return undefined;
    }
    return entry.principal;
  }

  /**
   * Moves to a newer generation: entries of users whose sessions or records changed, and of
   * revoked tokens, go; when what changed is not known, all go.
   */
  private advance(entries: LRUCache<string, Entry>, generation: Generation): void {
    const changed = this.generation < 0 ? undefined : generation.changedSince(this.generation);
    if (changed === undefined) {
      entries.clear();
    } else if (changed.size > 0) {
      const gone: string[] = [];
      for (const [key, { principal }] of entries.entries()) {
        if (changed.has(principal.user.id) || changed.has(principal.claims.jti)) gone.push(key);
      }
      for (const key of gone) entries.delete(key);
    }
    this.generation = generation.value;
  }
}
