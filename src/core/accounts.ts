/**
 * Accounts: registration, password login, password change and user administration.
 * Every login failure collapses into one `invalid_credentials`, for unknown users after a
 * dummy hash verification so the two cases cost the same time.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AppError, type ErrorCode, type FieldProblem, validationFailed } from '../errors.js';
import type { UserPatch, UserRecord, UserStore } from '../store/types.js';
import type { AuditLog, LoginFailureReason } from './audit.js';
import type { EmailFlowService } from './email-flows.js';
import {
  emailProblems,
  findByIdentifier,
  identityKey,
  type LoginIdentifier,
  normalizeEmail,
  normalizeUsername,
  usernameProblems,
} from './identity.js';
import type { LoginThrottle } from './login-throttle.js';
import type { MfaChallenge, MfaService } from './mfa.js';
import type { PasswordHasher } from './password-hasher.js';
import { type PasswordRules, passwordProblems } from './password-policy.js';
import type { SessionService } from './sessions.js';
import type { ClientInfo, Principal, TokenPair } from './types.js';

export interface Registration {
  username: string;
  email: string;
  password: string;
}

export type { LoginIdentifier } from './identity.js';

export type LoginResult = { tokens: TokenPair } | { mfa: MfaChallenge };

export interface AccountServiceOptions {
  users: UserStore;
  /** Each change commits with its audit event (and a registration with its verification mail). */
  audit: AuditLog;
  emailFlows: EmailFlowService;
  mfa: MfaService;
  /** Refuse a correct password until the address is proven. */
  requireEmailVerification: boolean;
  sessions: SessionService;
  hasher: PasswordHasher;
  passwordRules: PasswordRules;
  clock: Clock;
  /** Operator warnings; never given a password or a hash. */
  warn: (message: string, context: Record<string, unknown>) => void;
  throttle: LoginThrottle;
}

/** What each operation may throw (a failing store is `unavailable`), for the API's list of answers. */
export const ACCOUNT_ERRORS = {
  register: ['validation_failed', 'user_exists', 'unavailable'],
  login: ['invalid_credentials', 'account_disabled', 'email_not_verified', 'too_many_attempts', 'unavailable'],
  changePassword: ['invalid_credentials', 'validation_failed', 'unavailable'],
  get: ['not_found', 'unavailable'],
  list: ['unavailable'],
  update: ['validation_failed', 'forbidden', 'not_found', 'unavailable'],
  remove: ['forbidden', 'not_found', 'unavailable'],
} as const satisfies Record<string, readonly ErrorCode[]>;

const ROLE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const MAX_ROLES = 16;

const invalidCredentials = () => new AppError('invalid_credentials', 'The username or password is incorrect.');

export class AccountService {
  constructor(private readonly o: AccountServiceOptions) {}

  async register(input: Registration, client: ClientInfo | null, roles: string[] = []): Promise<UserRecord> {
    const problems = [
      ...usernameProblems(input.username),
      ...emailProblems(input.email),
      ...(await passwordProblems(input.password, this.o.passwordRules)),
    ];
    if (problems.length > 0) throw validationFailed(problems);
    const username = normalizeUsername(input.username);
    const email = normalizeEmail(input.email);
    const usernameKey = identityKey(username);
    const emailKey = identityKey(email);

    const taken = await this.o.users.keysTaken(usernameKey, emailKey);
    if (taken.username || taken.email) throw userExists(taken);

    const now = this.o.clock.now();
    const user = {
      id: randomUUID(),
      username,
      usernameKey,
      email,
      emailKey,
      passwordHash: await this.o.hasher.hash(input.password),
      roles,
      createdAt: now,
    };
    const record: UserRecord = { ...user, disabled: false, updatedAt: now, emailVerifiedAt: null };
    const mail = await this.o.emailFlows.mayMail(email);
    await this.o.audit.inTransaction(async (tx, record_) => {
      // The pre-check can race another registration; the unique keys settle it.
      if ((await tx.users.insert(user)) === 'taken') throw userExists({ username: true, email: true });
      if (mail) await this.o.emailFlows.queueVerification(tx, record);
      await record_('user.registered', { userId: user.id, client, data: { roles: roles.join(' ') } });
    });
    if (mail) this.o.emailFlows.committed();
    return record;
  }

  /** Checks a password login: the user, and whether a second factor must follow. Opens no session. */
  async verifyCredentials(
    identifier: LoginIdentifier,
    password: string,
    client: ClientInfo,
  ): Promise<{ user: UserRecord; secondFactor: boolean }> {
    const user = await findByIdentifier(this.o.users, identifier);
    const account = user
      ? `user:${user.id}`
      : `unknown:${identityKey('email' in identifier ? identifier.email : identifier.username)}`;
    const ip = client.ip ?? 'unknown';
    // Recorded for known and unknown users alike, so the record costs the same either way.
    const failed = (reason: LoginFailureReason) =>
      this.o.audit.recordAlone('login.failed', {
        userId: user?.id ?? null,
        client,
        data: { reason, ...(user ? {} : { identifier: identifierText(identifier).slice(0, 64) }) },
      });
    try {
      await this.o.throttle.assertAllowed(account, ip);
    } catch (error) {
      await failed('throttled');
      throw error;
    }
    if (!user || !this.o.hasher.canVerify(user.passwordHash)) {
      if (user) this.o.warn('stored password hash is in an unknown format; login refused', { userId: user.id });
      await this.o.hasher.verifyDummy(password);
      await this.o.throttle.recordFailure(account, ip);
      await failed(user ? 'wrong_password' : 'unknown_user');
      throw invalidCredentials();
    }
    if (!(await this.o.hasher.verify(user.passwordHash, password))) {
      await this.o.throttle.recordFailure(account, ip);
      await failed('wrong_password');
      throw invalidCredentials();
    }
    // With a second factor, a right password clears nothing: failures (wrong codes too) clear
    // only when the second step succeeds, or knowing the password would buy endless code guesses.
    const secondFactor = await this.o.mfa.required(user.id);
    if (!secondFactor) await this.o.throttle.recordSuccess(account, ip);
    // Only someone who knows the password learns that the account is disabled.
    if (user.disabled) {
      await failed('disabled');
      throw new AppError('account_disabled', 'This account has been disabled.');
    }
    if (this.o.requireEmailVerification && user.emailVerifiedAt === null) {
      await failed('email_not_verified');
      throw new AppError('email_not_verified', 'Confirm your email address first: use the link we mailed you.');
    }
    if (this.o.hasher.needsRehash(user.passwordHash)) {
      const next = await this.o.hasher.hash(password);
      await this.o.users.replacePasswordHash(user.id, user.passwordHash, next, this.o.clock.now());
    }
    return { user, secondFactor };
  }

  /** A right password opens a session, or, for a user with a second factor, starts its step. */
  async login(identifier: LoginIdentifier, password: string, client: ClientInfo): Promise<LoginResult> {
    const { user, secondFactor } = await this.verifyCredentials(identifier, password, client);
    if (secondFactor) return { mfa: await this.o.mfa.challenge(user) };
    return { tokens: await this.o.sessions.open(user, client) };
  }

  /** Needs the current password; ends every other session of the user. */
  async changePassword(principal: Principal, current: string, next: string, client: ClientInfo): Promise<void> {
    const { user } = principal;
    if (!(await this.o.hasher.verify(user.passwordHash, current))) {
      throw new AppError('invalid_credentials', 'The current password is incorrect.');
    }
    const problems = await passwordProblems(next, this.o.passwordRules, 'new_password');
    if (problems.length > 0) throw validationFailed(problems);
    const hash = await this.o.hasher.hash(next);
    const now = this.o.clock.now();
    await this.o.audit.inTransaction(async (tx, record) => {
      if (!(await tx.users.replacePasswordHash(user.id, user.passwordHash, hash, now))) {
        throw new AppError('invalid_credentials', 'The current password is incorrect.');
      }
      const ended = await tx.sessions.endAllForUser(user.id, 'password_changed', now, principal.session.id);
      await record('password.changed', {
        userId: user.id,
        sessionId: principal.session.id,
        client,
        data: { sessions_ended: ended.length },
      });
    });
  }

  async get(id: string): Promise<UserRecord> {
    const user = await this.o.users.findById(id);
    if (!user) throw new AppError('not_found', 'No such user.');
    return user;
  }

  async list(page: number, perPage: number): Promise<{ users: UserRecord[]; total: number }> {
    return this.o.users.list((page - 1) * perPage, perPage);
  }

  /** Changes roles or the disabled flag. Disabling ends every session of the user at once. */
  async update(actor: UserRecord, id: string, patch: UserPatch, client: ClientInfo | null): Promise<UserRecord> {
    if (patch.roles !== undefined) {
      const problems = rolesProblems(patch.roles);
      if (problems.length > 0) throw validationFailed(problems);
      patch = { ...patch, roles: [...new Set(patch.roles)] };
    }
    if (id === actor.id && (patch.disabled === true || (patch.roles && !patch.roles.includes('admin')))) {
      throw new AppError('forbidden', 'Administrators cannot disable themselves or drop their own admin role.');
    }
    return this.applyPatch(id, patch, { actorId: actor.id, client });
  }

  async remove(actor: UserRecord, id: string, client: ClientInfo | null): Promise<void> {
    if (id === actor.id) throw new AppError('forbidden', 'Administrators cannot delete themselves.');
    await this.o.audit.inTransaction(async (tx, record) => {
      // The user's sessions go with it (ON DELETE CASCADE), so its tokens stop at once.
      if (!(await tx.users.delete(id))) throw new AppError('not_found', 'No such user.');
      await record('user.deleted', { userId: id, actorId: actor.id, client });
    });
  }

  /** The change, the sessions a disable ends, and one event per thing that changed, together. */
  private applyPatch(
    id: string,
    patch: UserPatch,
    by: { actorId: string | null; client: ClientInfo | null },
  ): Promise<UserRecord> {
    const now = this.o.clock.now();
    return this.o.audit.inTransaction(async (tx, record) => {
      const before = await tx.users.findById(id);
      const updated = before && (await tx.users.update(id, patch, now));
      if (!before || !updated) throw new AppError('not_found', 'No such user.');
      if (patch.disabled !== undefined && patch.disabled !== before.disabled) {
        if (patch.disabled) await tx.sessions.endAllForUser(id, 'disabled', now);
        await record(patch.disabled ? 'user.disabled' : 'user.enabled', { userId: id, ...by });
      }
      if (patch.roles !== undefined && patch.roles.join(' ') !== before.roles.join(' ')) {
        await record('user.roles_changed', {
          userId: id,
          ...by,
          data: { from: before.roles.join(' '), to: updated.roles.join(' ') },
        });
      }
      return updated;
    });
  }

  /** Adds a role by username (the CLI's `user promote`). */
  async grantRole(username: string, role: string): Promise<UserRecord> {
    const problems = rolesProblems([role]);
    if (problems.length > 0) throw validationFailed(problems);
    const user = await this.o.users.findByUsernameKey(identityKey(username));
    if (!user) throw new AppError('not_found', `No user named ${username}.`);
    return this.applyPatch(user.id, { roles: [...new Set([...user.roles, role])] }, { actorId: null, client: null });
  }
}

function identifierText(identifier: LoginIdentifier): string {
  return 'email' in identifier ? identifier.email : identifier.username;
}

function userExists(taken: { username: boolean; email: boolean }): AppError {
  const details: FieldProblem[] = [];
  if (taken.username) details.push({ field: 'username', problem: 'taken' });
  if (taken.email) details.push({ field: 'email', problem: 'taken' });
  return new AppError('user_exists', 'A user with that username or email already exists.', { details });
}

function rolesProblems(roles: string[]): FieldProblem[] {
  if (roles.length > MAX_ROLES) return [{ field: 'roles', problem: 'too_long' }];
  return roles.every((role) => ROLE_NAME.test(role)) ? [] : [{ field: 'roles', problem: 'invalid_format' }];
}
