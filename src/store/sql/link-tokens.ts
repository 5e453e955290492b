import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { LinkPurpose, LinkTokenStore } from '../types.js';
import { purgeDue } from './purge-in-batches.js';

export function createLinkTokenStore(db: Kysely<Database>, engine: SqlEngine): LinkTokenStore {
  return {
    async issue(token) {
      // A new link voids the older ones of its purpose: only the latest mail works.
      await db
        .updateTable('link_tokens')
        .set({ used_at: token.createdAt })
        .where('user_id', '=', token.userId)
        .where('purpose', '=', token.purpose)
        .where('used_at', 'is', null)
        .execute();
      await db
        .insertInto('link_tokens')
        .values({
          token_hash: token.hash,
          user_id: token.userId,
          purpose: token.purpose,
          email: token.email,
          created_at: token.createdAt,
          expires_at: token.expiresAt,
          used_at: null,
        })
        .execute();
    },
    async consume(hash, purposes, now) {
      // One statement: the row is used up by whichever caller's update lands first.
      const row = await db
        .updateTable('link_tokens')
        .set({ used_at: now })
        .where('token_hash', '=', hash)
        .where('purpose', 'in', [...purposes])
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .returning(['token_hash', 'user_id', 'purpose', 'email', 'created_at', 'expires_at'])
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        hash: row.token_hash,
        userId: row.user_id,
        purpose: row.purpose as LinkPurpose,
        email: row.email,
        createdAt: Number(row.created_at),
        expiresAt: Number(row.expires_at),
      };
    },
    purge(now) {
      // Used or expired; found along the expiry's index, where the unused live ones are few.
      return purgeDue(db, engine, 'link_tokens', 'expires_at', (eb) =>
        eb.or([eb('expires_at', '<=', now), eb('used_at', 'is not', null)]),
      );
    },
  };
}
