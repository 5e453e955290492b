/**
 * Follows Tessera's revocation feed (Server-Sent Events) and keeps what it says: token ids that
 * are revoked, users whose tokens must be checked again, and a reset time before which every
 * token must be checked again. Reconnects from its last cursor; while disconnected, it says so,
 * and the verifier asks Tessera instead of trusting stale news.
 */
export interface FeedOptions {
  url: string;
  authorization: string;
  fetch: typeof fetch;
  /** How long a revoked id is remembered: longer than any access token lives. */
  memorySeconds: number;
  now: () => number;
}

export class RevocationFeed {
  private readonly revoked = new Map<string, number>();
  private readonly changed = new Map<string, number>();
  private resetAt = Number.POSITIVE_INFINITY;
  private cursor: string | undefined;
  private connected = false;
  private stopped = false;
  private controller: AbortController | undefined;
  private readyWaiters: (() => void)[] = [];

  constructor(private readonly o: FeedOptions) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }

  /** Resolves once the feed is live (or at once if it already is). */
  ready(): Promise<void> {
    return this.connected ? Promise.resolve() : new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  get live(): boolean {
    return this.connected;
  }

  isRevoked(jti: string): boolean {
    return this.revoked.has(jti);
  }

  /** Whether a token of `sub` issued at `iat` (seconds) must be checked with Tessera again. */
  needsCheck(sub: string, iat: number): boolean {
    if (iat <= this.resetAt) return true;
    const changedAt = this.changed.get(sub);
    return changedAt !== undefined && iat <= changedAt;
  }

  markRevoked(jti: string): void {
    this.revoked.set(jti, this.o.now());
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.connect();
      } catch {
        // Tessera unreachable or the stream broke: try again shortly.
      }
      this.connected = false;
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  private async connect(): Promise<void> {
    this.controller = new AbortController();
    const response = await this.o.fetch(this.o.url, {
      headers: {
        authorization: this.o.authorization,
        accept: 'text/event-stream',
        ...(this.cursor === undefined ? {} : { 'last-event-id': this.cursor }),
      },
      signal: this.controller.signal,
    });
    if (response.status !== 200 || !response.body) throw new Error(`feed answered ${response.status}`);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        this.handle(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  private handle(block: string): void {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
    }
    const event = fields.get('event');
    if (!event) return;
    const id = fields.get('id');
    const data = JSON.parse(fields.get('data') ?? '{}') as { subjects?: string[] };
    const nowSeconds = Math.floor(this.o.now() / 1000);
    if (event === 'ready') {
      // Fresh from the cursor we had, or from now: anything issued before a first connection
      // (or a gap Tessera cannot account for) is checked with Tessera once.
      if (this.cursor === undefined) this.resetAt = nowSeconds;
      this.connected = true;
      for (const waiter of this.readyWaiters.splice(0)) waiter();
    } else if (event === 'revoked') {
      for (const subject of data.subjects ?? []) {
        this.changed.set(subject, nowSeconds);
        this.revoked.set(subject, this.o.now());
      }
    } else if (event === 'reset') {
      this.resetAt = nowSeconds;
    }
    if (id !== undefined) this.cursor = id;
    this.forget();
  }

  /** Drops what no live token can concern any more. */
  private forget(): void {
    const horizon = this.o.now() - this.o.memorySeconds * 1000;
    for (const [key, at] of this.revoked) if (at < horizon) this.revoked.delete(key);
    for (const [key, at] of this.changed) if (at * 1000 < horizon) this.changed.delete(key);
  }
}
