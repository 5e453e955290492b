/** Every kind of audit event; also the webhook event types. */
export const AUDIT_TYPES = [
  'user.registered',
  'login.succeeded',
  'login.failed',
  'refresh.reuse_detected',
  'logout',
  'session.ended',
  'password.changed',
  'password.reset_requested',
  'password.reset',
  'email.verified',
  'email.changed',
  'mfa.enrolled',
  'mfa.removed',
  'mfa.recovery_code_used',
  'passkey.added',
  'passkey.renamed',
  'passkey.removed',
  'passkey.counter_regressed',
  'user.disabled',
  'user.enabled',
  'user.deleted',
  'user.roles_changed',
  'key.rotated',
] as const;

export type AuditType = (typeof AUDIT_TYPES)[number];
