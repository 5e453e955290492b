import type { Kysely } from 'kysely';
import type { AuditEventsTable, Database } from '../schema.js';
import type { SqlEngine } from '../sql-engine.js';
import type { AuditEventRecord, AuditStore } from '../types.js';
import { purgeDue } from './purge-in-batches.js';

const fromRow = (row: AuditEventsTable): AuditEventRecord => ({
  id: row.id,
  at: Number(row.at),
  type: row.type,
  userId: row.user_id,
  actorId: row.actor_id,
  ip: row.ip,
  userAgent: row.user_agent,
  sessionId: row.session_id,
  data: row.data === null ? null : (JSON.parse(row.data) as AuditEventRecord['data']),
});

export function createAuditStore(db: Kysely<Database>, engine: SqlEngine): AuditStore {
  return {
    async append(event) {
      await db
        .insertInto('audit_events')
        .values({
          id: event.id,
          at: event.at,
          type: event.type,
          user_id: event.userId,
          actor_id: event.actorId,
          ip: event.ip,
          user_agent: event.userAgent?.slice(0, 512) ?? null,
          session_id: event.sessionId,
          data: event.data === null ? null : JSON.stringify(event.data),
        })
        .execute();
    },
    async list(query) {
      let select = db.selectFrom('audit_events').selectAll().limit(query.limit);
      if (query.userId !== undefined) select = select.where('user_id', '=', query.userId);
      if (query.type !== undefined) select = select.where('type', '=', query.type);
      if (query.since !== undefined) select = select.where('at', '>=', query.since);
      if (query.until !== undefined) select = select.where('at', '<=', query.until);
      const { before, after } = query;
      if (before) {
        select = select.where((eb) =>
          eb.or([eb('at', '<', before.at), eb.and([eb('at', '=', before.at), eb('id', '<', before.id)])]),
        );
      }
      if (after) {
        select = select.where((eb) =>
          eb.or([eb('at', '>', after.at), eb.and([eb('at', '=', after.at), eb('id', '>', after.id)])]),
        );
        return (await select.orderBy('at', 'asc').orderBy('id', 'asc').execute()).map(fromRow);
      }
      return (await select.orderBy('at', 'desc').orderBy('id', 'desc').execute()).map(fromRow);
    },
    purge(before) {
      return purgeDue(db, engine, 'audit_events', 'at', (eb) => eb('at', '<', before));
    },
  };
}
