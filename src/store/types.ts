/**
 * The storage seam. Each interface is what the core needs and nothing more; every engine
 * implements it. Times are milliseconds since the epoch.
 */
export interface UserRecord {
  id: string;
  username: string;
  email: string;
  passwordHash: string;
  roles: string[];
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
  /** When the current address was proven by a mailed link; null until then. */
  emailVerifiedAt: number | null;
}

export interface NewUser {
  id: string;
  username: string;
  usernameKey: string;
  email: string;
  emailKey: string;
  passwordHash: string;
  roles: string[];
  createdAt: number;
}

export interface UserPatch {
  roles?: string[];
  disabled?: boolean;
}

export interface UserStore {
  /** 'taken' when the id, username key or email key is already used. */
  insert(user: NewUser): Promise<'inserted' | 'taken'>;
  keysTaken(usernameKey: string, emailKey: string): Promise<{ username: boolean; email: boolean }>;
  findByUsernameKey(key: string): Promise<UserRecord | undefined>;
  findByEmailKey(key: string): Promise<UserRecord | undefined>;
  findById(id: string): Promise<UserRecord | undefined>;
  list(offset: number, limit: number): Promise<{ users: UserRecord[]; total: number }>;
  /** Replaces the hash only if it is still `expected`, so a concurrent password change wins. */
  replacePasswordHash(id: string, expected: string, next: string, now: number): Promise<boolean>;
  update(id: string, patch: UserPatch, now: number): Promise<UserRecord | undefined>;
  delete(id: string): Promise<boolean>;
  /** Marks the address proven, only if it is still `email`; false otherwise. */
  markEmailVerified(id: string, email: string, now: number): Promise<boolean>;
  /** Replaces the address (proven by the link that brought it); 'taken' if another user has it. */
  changeEmail(id: string, email: string, emailKey: string, now: number): Promise<'changed' | 'taken' | 'missing'>;
}

export type LinkPurpose = 'verify_email' | 'reset_password' | 'change_email';

/** A one-time token sent by mail, known here only by its hash. */
export interface LinkTokenRecord {
  hash: string;
  userId: string;
  purpose: LinkPurpose;
  /** The address the link went to (for an email change, the new address). */
  email: string;
  createdAt: number;
  expiresAt: number;
}

export interface LinkTokenStore {
  /** Stores a token and voids the user's unused tokens of the same purpose. */
  issue(token: LinkTokenRecord): Promise<void>;
  /**
   * Uses up a live token of one of `purposes` and returns it, atomically: of any number of
   * concurrent callers with one token, one gets it. Undefined for an unknown, used, expired or
   * other-purpose token (which stays as it was).
   */
  consume(hash: string, purposes: readonly LinkPurpose[], now: number): Promise<LinkTokenRecord | undefined>;
  /** Deletes used and expired tokens. */
  purge(now: number): Promise<number>;
}

export interface OutboxEntry {
  id: string;
  /** What the payload is: a mail to send, or a job that may queue one. */
  topic: string;
  /** Sealed by the caller: the store never sees what a mail says. */
  payload: string;
  recipient: string | null;
  createdAt: number;
}

export interface ClaimedEntry extends OutboxEntry {
  /** Tries so far, this one included. */
  attempts: number;
}

export interface OutboxFailure {
  id: string;
  topic: string;
  recipient: string | null;
  attempts: number;
  createdAt: number;
  finishedAt: number;
  error: string;
}

/** A durable queue: entries are written in the transaction of the change that causes them. */
export interface OutboxStore {
  enqueue(entry: OutboxEntry): Promise<void>;
  /**
   * Claims up to `limit` due entries until `leaseUntil`: no other caller, on any instance, gets
   * them before then. An entry whose claimant died is due again when its lease ends.
   */
  claim(now: number, leaseUntil: number, limit: number): Promise<ClaimedEntry[]>;
  /** Done: the payload is dropped. */
  complete(id: string, now: number): Promise<void>;
  /** Released for another try at `nextAttemptAt`. */
  retry(id: string, nextAttemptAt: number, error: string): Promise<void>;
  /** Given up: recorded with the reason, payload dropped. */
  fail(id: string, now: number, error: string): Promise<void>;
  /** How many entries are in each state. */
  counts(): Promise<{ pending: number; done: number; failed: number }>;
  /** Entries waiting (or being tried), by topic. */
  pendingByTopic(): Promise<Record<string, number>>;
  failures(limit: number): Promise<OutboxFailure[]>;
  /** Deletes entries done before `before`. */
  purge(before: number): Promise<number>;
}

export interface SessionRecord {
  id: string;
  userId: string;
  /** The refresh token that may be used next. */
  refreshJti: string;
  refreshIssuedAt: number;
  /** The refresh token consumed by the last rotation, honoured only inside the reuse interval. */
  previousJti: string | null;
  /** When `previousJti` was first rotated out: the start of its reuse interval. */
  rotatedAt: number | null;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
  endedAt: number | null;
  endReason: string | null;
  userAgent: string | null;
  ip: string | null;
  /** Authentication assurance level the session was opened with: 1 password, 2 a second factor too. */
  aal: number;
  /** The methods used to open it (RFC 8176): 'pwd', 'otp', 'recovery'. */
  amr: string[];
}

export interface SessionWithUser {
  session: SessionRecord;
  user: UserRecord;
}

export interface Rotation {
  sessionId: string;
  /** The user the presented token names: the session must still be theirs. */
  userId: string;
  fromJti: string;
  toJti: string;
  issuedAt: number;
  expiresAt: number;
  /** The session must not have rotated after this time: the bound on how often one session rotates. */
  lastRotationBy: number;
}

/** What a session's tokens are minted from: the fields a token pair carries. */
export type MintingSession = Pick<
  SessionRecord,
  'id' | 'userId' | 'refreshJti' | 'refreshIssuedAt' | 'expiresAt' | 'aal' | 'amr'
>;

/** A session as its rotation left it, and its user's roles: what the new tokens are minted from. */
export interface RotatedSession {
  session: MintingSession;
  roles: string[];
}

export interface SessionStore {
  insert(session: SessionRecord): Promise<void>;
  find(id: string): Promise<SessionRecord | undefined>;
  /** The session and its user in one lookup: what every authenticated request needs. */
  findWithUser(id: string): Promise<SessionWithUser | undefined>;
  /**
   * Atomic compare-and-set: moves the session to `toJti` only if `fromJti` is still current, the
   * session has not ended nor rotated after `lastRotationBy`, and it belongs to `userId`, who exists
   * and is not disabled. Exactly one
   * of any number of concurrent callers gets the rotated session; the others, undefined.
   */
  rotate(rotation: Rotation, now: number): Promise<RotatedSession | undefined>;
  /** Ends a live session; false when it had already ended or does not exist. */
  end(id: string, reason: string, now: number): Promise<boolean>;
  /** Ends every live session of a user (but `exceptId`), returning the ids it ended. */
  endAllForUser(userId: string, reason: string, now: number, exceptId?: string): Promise<string[]>;
  listLive(userId: string, now: number): Promise<SessionRecord[]>;
  /**
   * Deletes sessions that have ended or expired (their tokens are refused either way), in
   * batches; deleting them raises no generation, since nothing cached can depend on them.
   */
  purge(now: number): Promise<number>;
}

/**
 * 'visible': every instance will refuse the token on its next check.
 * 'pending': stored durably, but a fast-path mirror could not be told; the caller must make the
 * revocation visible another way (Tessera ends the token's session, which every check reads).
 */
export type RevokeOutcome = 'visible' | 'pending';

export interface RevocationStore {
  /** Blocks one token id until `expiresAt`, when the token would have died anyway. */
  revoke(jti: string, expiresAt: number): Promise<RevokeOutcome>;
  isRevoked(jti: string): Promise<boolean>;
  purge(now: number): Promise<number>;
}

/** The durable revocation list, which a fast-path mirror can be rebuilt from. */
export interface DurableRevocationStore extends RevocationStore {
  /** Live revocations in jti order after `afterJti`, a page at a time. */
  listLive(now: number, afterJti: string, limit: number): Promise<{ jti: string; expiresAt: number }[]>;
}

export interface CounterWindow {
  count: number;
  /** When the current window ends and the count starts again from zero. */
  resetAt: number;
}

/** Fixed-window counters for rate limits, shared by every instance that shares the store. */
export interface CounterStore {
  /** Adds one to `key` in the window containing `now` and returns the new count. */
  hit(key: string, windowMs: number, now: number): Promise<CounterWindow>;
  peek(key: string, windowMs: number, now: number): Promise<CounterWindow>;
  reset(key: string, windowMs: number, now: number): Promise<void>;
  purge(now: number): Promise<number>;
}

export interface HealthCheck {
  name: string;
  /** Without a critical dependency the service cannot answer correctly (503); without another it is degraded. */
  critical: boolean;
  /** Resolves when the dependency answers; rejects otherwise. */
  check(): Promise<void>;
}

/**
 * A number the database raises, in the same transaction, with every write that can stop a token
 * working: a session ended or deleted, a user changed or deleted, a token revoked (triggers do
 * it, so the CLI, an import or another instance cannot forget). Each raise is logged with whom
 * it concerns: the user id, or the revoked token's id. An unchanged number means nothing that
 * authentication read since has changed.
 */
export interface GenerationSource {
  /**
   * The current number, read after this call began: a write committed before the call is
   * counted. Concurrent callers share one read.
   */
  observe(): Promise<Generation>;
  /**
   * The number as a request arriving now may be checked against: it counts every write whose
   * writer has answered (a writer waits `commitWaitMs` after committing a raise). Where reading
   * is local (SQLite) this is `observe()`; where it is a round trip, a read a few milliseconds old.
   */
  recent(): Promise<Generation>;
  /** How long a write that raises the number waits after its commit before it returns. */
  commitWaitMs: number;
  /** Forgets log entries too old to matter; a reader that needs them treats everything as changed. */
  purge(): Promise<number>;
}

export interface Generation {
  value: number;
  /**
   * The user ids and token ids that raises after `since` (up to `value`) concerned, or undefined
   * when that is not known (too far back, or the counter moved without a log): then treat
   * everything as changed.
   */
  changedSince(since: number): ReadonlySet<string> | undefined;
}

export interface MfaFactorRecord {
  id: string;
  userId: string;
  type: 'totp';
  status: 'pending' | 'confirmed';
  /** Sealed by the caller: the store never sees a secret. */
  secret: string;
  /** The last TOTP time step accepted, or null before any. */
  lastStep: number | null;
  createdAt: number;
  confirmedAt: number | null;
  lastUsedAt: number | null;
}

export interface MfaChallengeRecord {
  hash: string;
  userId: string;
  expiresAt: number;
  failures: number;
}

/** Second factors, recovery codes and the challenges between a password and a second factor. */
export interface MfaStore {
  insertFactor(factor: MfaFactorRecord): Promise<void>;
  findFactor(id: string): Promise<MfaFactorRecord | undefined>;
  listFactors(userId: string): Promise<MfaFactorRecord[]>;
  /** Deletes the user's pending (unconfirmed) factors. */
  deletePending(userId: string): Promise<void>;
  /** Pending → confirmed, with `step` as its last accepted step; false if it was not pending. */
  confirmFactor(id: string, step: number, now: number): Promise<boolean>;
  /**
   * Moves the factor's last accepted step up to `step`, only if it is below: of any number of
   * callers (on any instance) presenting one code, one gets true. A code is never accepted twice.
   */
  acceptStep(id: string, step: number, now: number): Promise<boolean>;
  /** Deletes one of the user's factors; false if there was none with that id. */
  deleteFactor(userId: string, id: string): Promise<boolean>;
  deleteAllFactors(userId: string): Promise<number>;
  /** Replaces every recovery code of the user with these (hashes). */
  replaceRecoveryCodes(userId: string, hashes: readonly string[], now: number): Promise<void>;
  /** Uses an unused code of the user, atomically; false if none matched. */
  useRecoveryCode(userId: string, hash: string, now: number): Promise<boolean>;
  recoveryCodesLeft(userId: string): Promise<number>;
  insertChallenge(challenge: MfaChallengeRecord, now: number): Promise<void>;
  /** A challenge that is unused, unexpired and has fewer than `maxFailures` failures. */
  findChallenge(hash: string, now: number, maxFailures: number): Promise<MfaChallengeRecord | undefined>;
  /** Counts one wrong code against the challenge. */
  failChallenge(hash: string): Promise<void>;
  /** Uses the challenge up; false if another request already did. */
  consumeChallenge(hash: string, now: number): Promise<boolean>;
  /** Deletes used and expired challenges. */
  purge(now: number): Promise<number>;
}

export interface PasskeyRecord {
  /** The credential id, base64url. */
  id: string;
  userId: string;
  userHandle: string;
  name: string;
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  createdAt: number;
  lastUsedAt: number | null;
}

export type PasskeyCeremony = 'register' | 'login' | 'mfa';

/** What a WebAuthn challenge was issued for: a response is accepted only for that. */
export interface PasskeyChallengeRecord {
  challenge: string;
  ceremony: PasskeyCeremony;
  /** The user it was issued to (registration, a login by username, the MFA step); null for a discoverable login. */
  userId: string | null;
  /** Registration: the session that asked. */
  sessionId: string | null;
  /** The MFA step: the hash of the mfa_token it belongs to. */
  mfaTokenHash: string | null;
  /** Registration: the user handle offered to the authenticator. */
  userHandle: string | null;
  expiresAt: number;
}

/** Passkeys (public keys only) and the challenges of their ceremonies. */
export interface PasskeyStore {
  /** 'taken' when that credential is already registered (to anyone). */
  insert(passkey: PasskeyRecord): Promise<'inserted' | 'taken'>;
  findById(id: string): Promise<PasskeyRecord | undefined>;
  listForUser(userId: string): Promise<PasskeyRecord[]>;
  rename(userId: string, id: string, name: string): Promise<boolean>;
  delete(userId: string, id: string): Promise<boolean>;
  /**
   * Moves the counter from `seen` to `next` and stamps the use, only if it is still `seen`:
   * of two sign-ins racing with one counter value, one gets true.
   */
  recordUse(id: string, seen: number, next: number, now: number): Promise<boolean>;
  insertChallenge(challenge: PasskeyChallengeRecord, now: number): Promise<void>;
  /** Marks an unused, unexpired challenge of that ceremony used and returns it; undefined if there is none. */
  consumeChallenge(
    challenge: string,
    ceremony: PasskeyCeremony,
    now: number,
  ): Promise<PasskeyChallengeRecord | undefined>;
  /** Deletes used and expired challenges. */
  purge(now: number): Promise<number>;
}

/** One thing that happened, as the audit log keeps it: never a password, token or code. */
export interface AuditEventRecord {
  id: string;
  at: number;
  type: string;
  /** Whom it concerns, when known. */
  userId: string | null;
  /** Who did it, when not the user (an admin); null for the user or the system. */
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  sessionId: string | null;
  data: Readonly<Record<string, string | number | boolean>> | null;
}

export interface AuditQuery {
  userId?: string;
  type?: string;
  /** Inclusive bounds on `at`. */
  since?: number;
  until?: number;
  /** Only events older than this one (newest-first order is `at`, then `id`, descending). */
  before?: { at: number; id: string };
  /** Only events newer than this one, oldest first (for following the log). */
  after?: { at: number; id: string };
  limit: number;
}

/** Append-only: events are written in the transaction of the change they record. */
export interface AuditStore {
  append(event: AuditEventRecord): Promise<void>;
  /** Newest first; with `after`, oldest first. */
  list(query: AuditQuery): Promise<AuditEventRecord[]>;
  /** Deletes the events older than `before`, in batches; returns how many. */
  purge(before: number): Promise<number>;
}

/** A resource server allowed to introspect tokens and follow revocations. */
export interface ApiClientRecord {
  id: string;
  name: string;
  /** SHA-256 of the secret, hex: the secret itself is shown once and never stored. */
  secretHash: string;
  createdAt: number;
}

export interface ApiClientStore {
  /** 'taken' when the name is already used. */
  insert(client: ApiClientRecord): Promise<'inserted' | 'taken'>;
  findById(id: string): Promise<ApiClientRecord | undefined>;
  list(): Promise<ApiClientRecord[]>;
  /** By id or by name; false when there is none. */
  delete(idOrName: string): Promise<boolean>;
}

/** The stores whose writes can share one transaction. */
export interface TransactionStores {
  users: UserStore;
  sessions: SessionStore;
  linkTokens: LinkTokenStore;
  outbox: OutboxStore;
  mfa: MfaStore;
  passkeys: PasskeyStore;
  audit: AuditStore;
}

/** What one database engine provides. */
export interface EngineStores extends TransactionStores {
  durableRevocations: DurableRevocationStore;
  apiClients: ApiClientStore;
  counters: CounterStore;
  generation: GenerationSource;
  health: HealthCheck[];
  /**
   * Whether an error from these stores means one could not be reached or answered too late
   * (the caller answers 503 and may retry) rather than a bug. Only the engine knows its errors.
   */
  isUnavailable(error: unknown): boolean;
  /**
   * Runs `work` in one transaction: all its writes commit together or not at all. Retried from
   * the start when the engine aborts it for a conflict (a deadlock), so `work` must only write
   * through `stores`.
   */
  transaction<T>(work: (stores: TransactionStores) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface Stores extends EngineStores {
  /** What the core checks: the durable list itself, or the Redis fast path in front of it. */
  revocations: RevocationStore;
}
