/**
 * The baseline: bare Fastify answering one constant JSON body the size of a whoami answer.
 * Whatever Tessera adds on top of this is the cost of authentication.
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

const app = Fastify({ logger: false });
app.get('/auth/whoami', async () => body);
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
console.log(`Server listening at ${address}`);
