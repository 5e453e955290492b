/**
 * The ceiling for login throughput: raw argon2id verifications per second at Tessera's
 * parameters and with the same number of hashes at once (HASH_CONCURRENCY's default).
 */
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';

const seconds = Number(process.argv[2] ?? 5);
const options = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
const hash = await argon2.hash('bench horse battery staple', options);
const inFlight = Number(process.env.HASH_CONCURRENCY ?? Math.max(1, availableParallelism() - 1));
let done = 0;
const deadline = Date.now() + seconds * 1000;
const started = Date.now();
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (Date.now() < deadline) {
      await argon2.verify(hash, 'bench horse battery staple');
      done += 1;
    }
  }),
);
console.log(JSON.stringify({ perSecond: done / ((Date.now() - started) / 1000) }));
