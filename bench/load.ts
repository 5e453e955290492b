/**
 * Load from a process of its own (so the server under test has its core to itself), bounded in
 * time, on loopback only. Prints `running` as it starts, then one JSON line: requests per second
 * and latency percentiles.
 *   node --import tsx bench/load.ts <file of json options>
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  seconds: number;
  connections: number;
  /**
   * 'get': GET with a fixed `token`, or with `tokens` one after another (each request the next);
   * 'login': `credentials`, or `logins` one after another; 'register': new users;
   * 'refresh': each connection follows its own rotation chain from one of `tokens`.
   */
  mode: 'get' | 'login' | 'register' | 'refresh';
  token?: string;
  tokens?: string[];
  credentials?: { username: string; password: string };
  logins?: { username: string; password: string }[];
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

const options = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as LoadOptions;
const url = new URL(options.url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error('load goes to loopback only');

let next = 0;
const heads = options.mode === 'refresh' ? [...(options.tokens ?? [])] : [];
const unique = Math.random().toString(36).slice(2, 8);
const json = { 'content-type': 'application/json' };

const requests: autocannon.Request[] =
  options.mode === 'get'
    ? [
        options.tokens
          ? {
              method: 'GET',
              setupRequest: (request) => ({
                ...request,
                headers: { authorization: `Bearer ${options.tokens?.[next++ % (options.tokens?.length ?? 1)]}` },
              }),
            }
          : { method: 'GET', headers: { authorization: `Bearer ${options.token}` } },
      ]
    : options.mode === 'login'
      ? [
          options.logins
            ? {
                method: 'POST',
                headers: json,
                setupRequest: (request) => ({
                  ...request,
                  body: JSON.stringify(options.logins?.[next++ % (options.logins?.length ?? 1)]),
                }),
              }
            : { method: 'POST', headers: json, body: JSON.stringify(options.credentials) },
        ]
      : options.mode === 'register'
        ? [
            {
              method: 'POST',
              headers: json,
              setupRequest: (request) => {
                next += 1;
                const name = `b${unique}${next}`;
                return {
                  ...request,
                  body: JSON.stringify({
                    username: name,
                    email: `${name}@example.com`,
                    password: 'bench horse battery staple',
                  }),
                };
              },
            },
          ]
        : [
            {
              // The heads of the rotation chains: a request takes one, its answer puts back the
              // successor. (Not autocannon's context: it is cleared each time the request list
              // starts over, here at every request, which sent the first tokens again and again:
              // answered from the reuse window, not rotated.)
              method: 'POST',
              setupRequest: (request) => {
                const token = heads.shift() ?? 'no-chain-left';
                return { ...request, headers: { authorization: `Bearer ${token}` } };
              },
              onResponse: (status, body) => {
                if (status === 200) heads.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
              },
            },
          ];

const result = await new Promise<autocannon.Result>((resolve, reject) => {
  const instance = autocannon(
    { url: options.url, connections: options.connections, duration: options.seconds, requests },
    (error: Error | null, done: autocannon.Result) => (error ? reject(error) : resolve(done)),
  );
  // Stopped early (harness.ts, loadDuring), the load reports over the time it ran.
  process.once('SIGTERM', () => instance.stop());
  console.log('running');
});
const output: LoadResult = {
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  errors: result.errors + result.timeouts,
  non2xx: result.non2xx,
};
console.log(JSON.stringify(output));
