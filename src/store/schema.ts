/** Row shapes as Kysely sees them. Booleans are 0/1 and times are epoch milliseconds on every engine. */
export interface UsersTable {
  id: string;
  username: string;
  username_key: string;
  email: string;
  email_key: string;
  password_hash: string;
  /** JSON array of role names. */
  roles: string;
  disabled: number;
  created_at: number;
  updated_at: number;
  /** When the current address was proven by a mailed link; null until then. */
  email_verified_at: number | null;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  refresh_jti: string;
  refresh_issued_at: number;
  previous_jti: string | null;
  rotated_at: number | null;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  /** When purging may delete it, if expired (sql/purge-after.ts); null if an older version opened it. */
  purge_after: number | null;
  ended_at: number | null;
  end_reason: string | null;
  user_agent: string | null;
  ip: string | null;
  /** Authentication assurance level: 1 after a password, 2 after a second factor. */
  aal: number;
  /** JSON array of the methods used (RFC 8176): ["pwd"], ["pwd","otp"], ["pwd","recovery"]. */
  amr: string;
}

export interface RevokedTokensTable {
  jti: string;
  expires_at: number;
}

export interface RateCountersTable {
  key: string;
  count: number;
  reset_at: number;
}

export interface GenerationTable {
  id: number;
  value: number;
}

export interface ChangesTable {
  generation: number;
  subject: string;
}

export interface LinkTokensTable {
  /** SHA-256 of the token, hex: the token itself is never stored. */
  token_hash: string;
  user_id: string;
  purpose: string;
  /** The address the link was sent to (for an email change, the new one). */
  email: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface OutboxTable {
  id: string;
  topic: string;
  /** Sealed (AES-256-GCM) while pending; cleared once done or failed. */
  payload: string | null;
  /** Who a mail is for, kept in clear for `tessera mail status`. */
  recipient: string | null;
  state: string;
  attempts: number;
  next_attempt_at: number;
  claimed_until: number | null;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

export interface MfaFactorsTable {
  id: string;
  user_id: string;
  type: string;
  status: string;
  /** Sealed (AES-256-GCM). */
  secret: string;
  /** The last TOTP time step accepted: a code is never accepted twice. */
  last_step: number | null;
  created_at: number;
  confirmed_at: number | null;
  last_used_at: number | null;
}

export interface RecoveryCodesTable {
  code_hash: string;
  user_id: string;
  created_at: number;
  used_at: number | null;
}

export interface MfaChallengesTable {
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  failures: number;
  used_at: number | null;
}

export interface AuditEventsTable {
  id: string;
  at: number;
  type: string;
  user_id: string | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  session_id: string | null;
  data: string | null;
}

export interface ApiClientsTable {
  id: string;
  name: string;
  secret_hash: string;
  created_at: number;
}

export interface PasskeysTable {
  /** The credential id, base64url. */
  id: string;
  user_id: string;
  /** The WebAuthn user handle the authenticator keeps: random, never the username. */
  user_handle: string;
  name: string;
  /** COSE public key, base64url. */
  public_key: string;
  /** The signature counter last seen: a lower one means a cloned authenticator. */
  counter: number;
  /** Comma-separated (usb, nfc, ble, internal, hybrid). */
  transports: string;
  device_type: string;
  backed_up: number;
  created_at: number;
  last_used_at: number | null;
}

export interface PasskeyChallengesTable {
  challenge: string;
  ceremony: string;
  user_id: string | null;
  session_id: string | null;
  mfa_token_hash: string | null;
  user_handle: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  revoked_tokens: RevokedTokensTable;
  rate_counters: RateCountersTable;
  tessera_generation: GenerationTable;
  tessera_changes: ChangesTable;
  link_tokens: LinkTokensTable;
  outbox: OutboxTable;
  mfa_factors: MfaFactorsTable;
  recovery_codes: RecoveryCodesTable;
  mfa_challenges: MfaChallengesTable;
  audit_events: AuditEventsTable;
  api_clients: ApiClientsTable;
  passkeys: PasskeysTable;
  passkey_challenges: PasskeyChallengesTable;
}
