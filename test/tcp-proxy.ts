/**
 * A loopback TCP proxy in front of a real server, to take that server away and bring it back
 * without touching it: `cut()` closes the port and every open connection, `restore()` listens
 * again on the same port, `blackhole()` accepts connections and never answers.
 */
import net from 'node:net';

export interface Proxy {
  port: number;
  url(template: string): string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  blackhole(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  let mode: 'forward' | 'blackhole' = 'forward';
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (mode === 'blackhole') return;
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const cut = async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  };
  return {
    port,
    url: (template) => {
      const url = new URL(template);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    cut,
    restore: async () => {
      mode = 'forward';
      if (!server.listening) await listen(port);
    },
    blackhole: () => {
      mode = 'blackhole';
      for (const socket of sockets) socket.destroy();
    },
    close: cut,
  };
}
