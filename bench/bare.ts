/**
 * The baseline: bare Fastify answering one constant JSON body the size of a whoami answer.
 * Whatever Tessera adds on top of this is the cost of authentication.
 *
 * It answers the requests read in one turn of the event loop together, at the turn's end, as
 * Tessera does (src/store/shared-generation.ts). Answering each at once makes each response's
 * write wake the client on its own: on a virtual machine where a wake-up is dear, that doubled
 * bare Fastify's CPU per request (60 µs against 32 here on 2026-12-01), and a baseline inflated
 * so flatters every ratio measured against it. BARE_AT_ONCE=1 answers each at once, for the
 * bench row that shows that cost.
 */
import Fastify from 'fastify';

const body = {
  message: 'Whoami successful',
  user_details: {
    id: '0195f2c4-6f1a-7c3e-9a55-3b1f2a7e9d10',
    username: 'bench-user',
    email: 'bench-user@example.com',
    roles: [],
    created_at: '2026-11-24T12:00:00.000Z',
  },
};

let turn: Promise<void> | undefined;
const endOfTurn = () =>
  (turn ??= new Promise((resolve) =>
    setImmediate(() => {
      turn = undefined;
      resolve();
    }),
  ));

const app = Fastify({ logger: false });
if (process.env.BARE_AT_ONCE === '1') {
  app.get('/auth/whoami', async () => body);
} else {
  app.get('/auth/whoami', async () => {
    await endOfTurn();
    return body;
  });
}
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
console.log(`Server listening at ${address}`);
