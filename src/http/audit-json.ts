/** An audit event as the API and `tessera audit tail` show it (snake_case, ISO time). */
import type { AuditEventRecord } from '../store/types.js';

export function auditJson(event: AuditEventRecord) {
  return {
    id: event.id,
    at: new Date(event.at).toISOString(),
    type: event.type,
    user_id: event.userId,
    actor_id: event.actorId,
    session_id: event.sessionId,
    ip: event.ip,
    user_agent: event.userAgent,
    data: event.data ?? {},
  };
}
