/**
 * npm run bench:verify: what @tessera/verify costs per call against raw jose verification of the
 * same token with the same key (side by side, one process), and how long a logout on Tessera
 * takes to reach a verifier that follows the revocation feed.
 */
import { createHash } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { createVerifier, VerifyError } from '../packages/verify/src/index.js';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openStores } from '../src/store/open.js';
import { tempDir } from './harness.js';

const CALLS = Number(process.env.BENCH_VERIFY_CALLS ?? 20_000);
const TRIALS = Number(process.env.BENCH_FEED_TRIALS ?? 20);
const CLIENT = { id: 'rs_bench', secret: 'tsk_bench-secret' };

const dir = tempDir('verify-');
const { config } = loadConfig(
  {
    SECRET_KEY: 'x'.repeat(40),
    DATA_DIR: dir,
    JWT_ALGORITHM: 'EdDSA',
    LOG_LEVEL: 'silent',
    MAIL_DISABLED: 'true',
    RATE_LIMIT_PER_IP: '1000000',
    RATE_LIMIT_PER_CLIENT: '1000000',
  },
  dir,
);
const stores = await openStores(config, { migrate: true });
const app = await buildApp({ config, stores });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
await stores.apiClients.insert({
  id: CLIENT.id,
  name: 'bench',
  secretHash: createHash('sha256').update(CLIENT.secret).digest('hex'),
  createdAt: Date.now(),
});

const post = async (path: string, body: unknown, token?: string) =>
  (await (
    await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    })
  ).json()) as Record<string, unknown>;
const signIn = async (name: string) => {
  await post('/auth/register', {
    username: name,
    email: `${name}@example.com`,
    password: 'bench horse battery staple',
  });
  return (await post('/auth/login', { username: name, password: 'bench horse battery staple' })).tokens as {
    access_token: string;
  };
};

const perCall = async (verify: (token: string) => Promise<unknown>, token: string) => {
  for (let i = 0; i < 2000; i++) await verify(token); // warm-up
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await verify(token);
  return Number(process.hrtime.bigint() - started) / 1000 / CALLS;
};

const { access_token: token } = await signIn('benchuser');
const jwks = createLocalJWKSet((await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: [] });
const none = createVerifier({ issuer: 'tessera', jwksUrl: `${base}/.well-known/jwks.json`, revocation: 'none' });
const feed = createVerifier({
  issuer: 'tessera',
  jwksUrl: `${base}/.well-known/jwks.json`,
  revocation: 'feed',
  client: CLIENT,
});
await feed.ready();
await feed.verify(token); // introspected once (issued before the feed connected), then trusted

const rows: [string, number][] = [];
for (let round = 0; round < 3; round++) {
  rows.push([
    'raw jose jwtVerify',
    await perCall((t) => jwtVerify(t, jwks, { issuer: 'tessera', algorithms: ['EdDSA'] }), token),
  ]);
  rows.push(["verify(), revocation 'none'", await perCall((t) => none.verify(t), token)]);
  rows.push(["verify(), revocation 'feed'", await perCall((t) => feed.verify(t), token)]);
}
const median = (name: string) => {
  const values = rows
    .filter(([n]) => n === name)
    .map(([, v]) => v)
    .sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)] ?? 0;
};
const raw = median('raw jose jwtVerify');
console.log(`Machine: Node ${process.version}; ${CALLS} calls a round, 3 rounds, medians`);
console.log('| verification | µs per call | vs raw jose |');
console.log('|---|---:|---:|');
for (const name of ['raw jose jwtVerify', "verify(), revocation 'none'", "verify(), revocation 'feed'"]) {
  console.log(`| ${name} | ${median(name).toFixed(1)} | ${(median(name) / raw).toFixed(2)}× |`);
}

// Logout on Tessera → refusal by the feed verifier: how long it takes.
const delays: number[] = [];
for (let trial = 0; trial < TRIALS; trial++) {
  const { access_token } = await signIn(`feed${trial}`);
  await new Promise((resolve) => setTimeout(resolve, 1100)); // issued a second before the check, as in life
  await feed.verify(access_token);
  const started = Date.now();
  await post('/auth/logout', {}, access_token);
  for (;;) {
    try {
      await feed.verify(access_token);
      await new Promise((resolve) => setTimeout(resolve, 5));
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      break;
    }
  }
  delays.push(Date.now() - started);
}
delays.sort((a, b) => a - b);
console.log(
  `logout → refused by the feed verifier: median ${delays[Math.floor(delays.length / 2)]} ms, max ${delays.at(-1)} ms over ${TRIALS} trials (target ≤ 1000 ms)`,
);
none.close();
feed.close();
await app.close();
await stores.close();
