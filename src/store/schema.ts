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
  ended_at: number | null;
  end_reason: string | null;
  user_agent: string | null;
  ip: string | null;
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

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  revoked_tokens: RevokedTokensTable;
  rate_counters: RateCountersTable;
  tessera_generation: GenerationTable;
  tessera_changes: ChangesTable;
}
