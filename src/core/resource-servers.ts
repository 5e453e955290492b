/**
 * What a team's own services need to trust Tessera's tokens as Tessera does: credentials for
 * them (resource-server clients), token introspection (RFC 7662) that says only "active" or
 * not, and a feed of whom recent revocations concern so that they can stop a token within a
 * second without asking on every request.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import { sha256Hex } from '../crypto/digest.js';
import { AppError, type ErrorCode, validationFailed } from '../errors.js';
import type { ApiClientRecord, ApiClientStore, GenerationSource } from '../store/types.js';
import type { SessionService } from './sessions.js';

export const RESOURCE_SERVER_ERRORS = {
  create: ['validation_failed', 'user_exists', 'unavailable'],
} as const satisfies Record<string, readonly ErrorCode[]>;

const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type Introspection =
  | { active: false }
  | {
      active: true;
      token_type: 'access';
      sub: string;
      sid: string;
      jti: string;
      iss: string;
      iat: number;
      exp: number;
      username: string;
      roles: string[];
      scope: string;
      aal: number;
      amr: string[];
      client_id: string;
    };

/** What the feed has for a reader at `cursor`. */
export type FeedStep =
  | { kind: 'changes'; cursor: number; subjects: string[] }
  /** The log no longer reaches back to the cursor: the reader must re-check what it holds. */
  | { kind: 'reset'; cursor: number }
  | { kind: 'none'; cursor: number };

export interface ResourceServerOptions {
  clients: ApiClientStore;
  sessions: SessionService;
  generation: GenerationSource;
  clock: Clock;
}

export class ResourceServerService {
  constructor(private readonly o: ResourceServerOptions) {}

  /** A new client and its secret, shown this once. */
  async create(name: string): Promise<{ client: ApiClientRecord; secret: string }> {
    if (!CLIENT_NAME.test(name)) throw validationFailed([{ field: 'name', problem: 'invalid_format' }]);
    const secret = `tsk_${randomBytes(32).toString('base64url')}`;
    const client = {
      id: `rs_${randomUUID().replace(/-/g, '')}`,
      name,
      secretHash: sha256Hex(secret),
      createdAt: this.o.clock.now(),
    };
    if ((await this.o.clients.insert(client)) === 'taken') {
      throw new AppError('user_exists', `A client named ${name} already exists.`);
    }
    return { client, secret };
  }

  list(): Promise<ApiClientRecord[]> {
    return this.o.clients.list();
  }

  remove(idOrName: string): Promise<boolean> {
    return this.o.clients.delete(idOrName);
  }

  /** The client these credentials name, or undefined; the same work either way. */
  async authenticate(id: string, secret: string): Promise<ApiClientRecord | undefined> {
    const client = await this.o.clients.findById(id);
    const expected = Buffer.from(client?.secretHash ?? sha256Hex(randomUUID()), 'hex');
    const given = Buffer.from(sha256Hex(secret), 'hex');
    return timingSafeEqual(expected, given) && client ? client : undefined;
  }

  /**
   * RFC 7662 for access tokens. Revoked, expired, ended, foreign, malformed, a refresh token:
   * all `{active: false}`, never a reason. A store that fails is an outage (503), not an answer.
   */
  async introspect(token: string, client: ApiClientRecord): Promise<Introspection> {
    try {
      const { claims, user, session } = await this.o.sessions.authenticate(token, ['access']);
      return {
        active: true,
        token_type: 'access',
        sub: claims.sub,
        sid: claims.sid,
        jti: claims.jti,
        iss: claims.iss,
        iat: claims.iat,
        exp: claims.exp,
        username: user.username,
        roles: [...user.roles],
        scope: user.roles.join(' '),
        aal: session.aal,
        amr: [...session.amr],
        client_id: client.id,
      };
    } catch (error) {
      if (error instanceof AppError && error.code !== 'unavailable' && error.code !== 'internal')
        return { active: false };
      throw error;
    }
  }

  /** The current position of the feed, for a reader that starts now. */
  async feedPosition(): Promise<number> {
    return (await this.o.generation.observe()).value;
  }

  /** Whom revocations and changes since `cursor` concern: user ids, ended session ids, revoked token ids. */
  async feedStep(cursor: number): Promise<FeedStep> {
    const generation = await this.o.generation.observe();
    if (generation.value === cursor) return { kind: 'none', cursor };
    const subjects = generation.value > cursor ? generation.changedSince(cursor) : undefined;
    if (subjects === undefined) return { kind: 'reset', cursor: generation.value };
    return { kind: 'changes', cursor: generation.value, subjects: [...subjects] };
  }
}
