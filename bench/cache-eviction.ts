/**
 * npm run bench:cache — the access cache's store, measured side by side: the insertion-order
 * Map it uses (evicts the oldest entry) against lru-cache (evicts the least recently used).
 * Two figures each: the cost of a lookup that hits, and the hit rate when more tokens are live
 * than the cache holds, with a skewed (Zipf-like) choice of token as real traffic has.
 * Single process, no I/O, bounded in count; run it on a quiet machine and compare the ratios.
 */
import { LRUCache } from 'lru-cache';

const CAPACITY = 10_000;
const LOOKUPS = 2_000_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

interface Store {
  name: string;
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

function insertionOrderMap(capacity: number): Store {
  const map = new Map<string, string>();
  return {
    name: 'Map (oldest out)',
    get: (key) => map.get(key),
    set(key, value) {
      if (map.size >= capacity) map.delete(map.keys().next().value ?? '');
      map.set(key, value);
    },
  };
}

function lru(capacity: number): Store {
  const cache = new LRUCache<string, string>({ max: capacity });
  return {
    name: 'lru-cache (least used out)',
    get: (key) => cache.get(key),
    set: (key, value) => void cache.set(key, value),
  };
}

/** Token-like keys: 32 characters, as the cache keys by a token's last 32. */
const keys = Array.from({ length: CAPACITY * 3 }, (_, i) => `${i.toString(36).padStart(8, '0')}${'x'.repeat(24)}`);

/** Index i with probability ∝ 1/(i+1): a few tokens very busy, a long tail seldom seen. */
function zipfSequence(n: number, count: number): Uint32Array {
  const weights = Array.from({ length: n }, (_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cumulative[i] = sum += (weights[i] ?? 0) / total;
  // mulberry32: a full-period 32-bit generator, seeded so every run sees the same sequence.
  let seed = 42;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const out = new Uint32Array(count);
  for (let k = 0; k < count; k++) {
    const r = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] ?? 1) < r) lo = mid + 1;
      else hi = mid;
    }
    out[k] = lo;
  }
  return out;
}

function hitCost(make: (capacity: number) => Store): number {
  const store = make(CAPACITY);
  for (let i = 0; i < CAPACITY; i++) store.set(keys[i] ?? '', 'principal');
  let found = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) if (store.get(keys[i % CAPACITY] ?? '') !== undefined) found++;
  const ns = Number(process.hrtime.bigint() - start) / LOOKUPS;
  if (found !== LOOKUPS) throw new Error('a lookup missed');
  return ns;
}

function hitRate(make: (capacity: number) => Store, sequence: Uint32Array): number {
  const store = make(CAPACITY);
  let hits = 0;
  for (const index of sequence) {
    const key = keys[index] ?? '';
    if (store.get(key) !== undefined) hits++;
    else store.set(key, 'principal');
  }
  return hits / sequence.length;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const makers = [insertionOrderMap, lru];
const sequence = zipfSequence(CAPACITY * 3, LOOKUPS);
const costs = makers.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, make] of makers.entries()) costs[i]?.push(hitCost(make));
}
const rates = makers.map((make) => hitRate(make, sequence));

console.log(`Capacity ${CAPACITY}; ${LOOKUPS} lookups a round, ${ROUNDS} rounds alternating; Node ${process.version}`);
console.log('| store | ns per hit (median) | hit rate, 30,000 live tokens, Zipf |');
console.log('|---|---:|---:|');
for (const [i, make] of makers.entries()) {
  console.log(`| ${make(1).name} | ${median(costs[i] ?? []).toFixed(1)} | ${((rates[i] ?? 0) * 100).toFixed(2)} % |`);
}
const [mapCost, lruCost] = costs.map(median);
console.log(`lru-cache / Map, cost per hit: ${((lruCost ?? 0) / (mapCost ?? 1)).toFixed(2)}×`);
