/**
 * Load from a process of its own (so the server under test has its core to itself), bounded in
 * time, on loopback only. Prints one JSON line: requests per second and latency percentiles.
 *   node --import tsx bench/load.ts <json options>
 */
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  seconds: number;
  connections: number;
  /** 'get': GET with a fixed token; 'login'/'register': POST bodies; 'refresh': each connection follows its own rotation chain. */
  mode: 'get' | 'login' | 'register' | 'refresh';
  token?: string;
  tokens?: string[];
  credentials?: { username: string; password: string };
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
const url = new URL(options.url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error('load goes to loopback only');

type Context = { token?: string };
let next = 0;
const unique = Math.random().toString(36).slice(2, 8);
const json = { 'content-type': 'application/json' };

const requests: autocannon.Request[] =
  options.mode === 'get'
    ? [{ method: 'GET', headers: { authorization: `Bearer ${options.token}` } }]
    : options.mode === 'login'
      ? [{ method: 'POST', headers: json, body: JSON.stringify(options.credentials) }]
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
              method: 'POST',
              setupRequest: (request, context: Context) => {
                context.token ??= options.tokens?.[next++ % (options.tokens?.length ?? 1)];
                return { ...request, headers: { authorization: `Bearer ${context.token}` } };
              },
              onResponse: (status, body, context: Context) => {
                if (status === 200) context.token = (JSON.parse(body) as { refresh_token: string }).refresh_token;
              },
            },
          ];

const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.seconds,
  requests,
});
const output: LoadResult = {
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  errors: result.errors + result.timeouts,
  non2xx: result.non2xx,
};
console.log(JSON.stringify(output));
