/**
 * Proving an address and recovering an account by mail: verification on sign-up and on
 * request, password reset, and email change. Every mail is queued in the transaction of the
 * token it carries; a link works once, for one purpose, and only the newest of its purpose.
 *
 * Requests that name an address (resend, forgot) do nothing in the request but queue a job: the
 * answer is the same, in body, status and work done, whether or not the address has an account.
 * The job, run by the outbox worker after the commit, looks the address up.
 */
import type { Clock } from '../clock.js';
import type { MailConfig } from '../config.js';
import { AppError, type ErrorCode, validationFailed } from '../errors.js';
import type { MailRenderer, TemplateName } from '../mail/templates.js';
import type { Outbox } from '../outbox/outbox.js';
import type { OutboxHandler } from '../outbox/worker.js';
import type { EngineStores, LinkPurpose, TransactionStores, UserRecord } from '../store/types.js';
import type { AuditLog } from './audit.js';
import { emailProblems, identityKey, normalizeEmail } from './identity.js';
import { hashLinkToken, looksLikeLinkToken, newLinkToken } from './link-tokens.js';
import type { MailLimits } from './mail-limits.js';
import type { PasswordHasher } from './password-hasher.js';
import { type PasswordRules, passwordProblems } from './password-policy.js';
import type { ClientInfo, Principal } from './types.js';

/** What each operation may throw (a failing store is `unavailable`), for the API's list of answers. */
export const EMAIL_FLOW_ERRORS = {
  request: ['validation_failed', 'unavailable'],
  verify: ['invalid_link_token', 'user_exists', 'unavailable'],
  reset: ['invalid_link_token', 'validation_failed', 'unavailable'],
  changeEmail: ['validation_failed', 'unavailable'],
} as const satisfies Record<string, readonly ErrorCode[]>;

/** Job topics the outbox worker hands back to this service. */
export const VERIFY_REQUEST = 'verify-request';
export const RESET_REQUEST = 'reset-request';

export interface EmailFlowOptions {
  stores: Pick<EngineStores, 'users' | 'transaction'>;
  /** Undefined with MAIL_DISABLED: the flows answer 503 rather than drop a mail. */
  outbox: Outbox | undefined;
  renderer: MailRenderer;
  limits: MailLimits;
  hasher: PasswordHasher;
  passwordRules: PasswordRules;
  mail: Pick<MailConfig, 'verifyTokenTtlSeconds' | 'resetTokenTtlSeconds'>;
  publicUrl: string;
  clock: Clock;
  audit: AuditLog;
}

const invalidLink = () =>
  new AppError(
    'invalid_link_token',
    'This link is not valid: it may have expired, been used, or been replaced by a newer one.',
  );

/** '24 hours', '1 hour', '30 minutes': for the mail's words, not for parsing. */
function humanDuration(seconds: number): string {
  const [amount, unit] = seconds % 3600 === 0 ? [seconds / 3600, 'hour'] : [Math.round(seconds / 60), 'minute'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}

export class EmailFlowService {
  constructor(private readonly o: EmailFlowOptions) {}

  /** After a caller's transaction that queued mail committed: deliver it now. */
  committed(): void {
    this.o.outbox?.committed();
  }

  /**
   * Whether a mail may go to `email` now (MAIL_MIN_INTERVAL, MAIL_PER_ADDRESS_PER_HOUR), counting
   * it. Asked before a transaction opens, never inside one: on SQLite the transaction holds the
   * one connection the counters would need.
   */
  async mayMail(email: string): Promise<boolean> {
    return this.o.outbox !== undefined && (await this.o.limits.allow(identityKey(email)));
  }

  /** Queues the verification mail of a new account, in its registration's transaction (after `mayMail`). */
  queueVerification(tx: TransactionStores, user: UserRecord): Promise<void> {
    return this.mailLink(tx, user, {
      purpose: 'verify_email',
      to: user.email,
      template: 'verify-email',
      page: 'verify-email',
    });
  }

  /** POST /auth/verify/resend: the same answer for any well-formed address. */
  requestVerification(email: string, client: ClientInfo | null): Promise<void> {
    return this.queueJob(VERIFY_REQUEST, email, client);
  }

  /** POST /auth/password/forgot: the same answer, and the same work, for any well-formed address. */
  requestPasswordReset(email: string, client: ClientInfo | null): Promise<void> {
    return this.queueJob(RESET_REQUEST, email, client);
  }

  /** Uses a verification or email-change link. */
  async verify(token: string, client: ClientInfo | null): Promise<LinkPurpose> {
    if (!looksLikeLinkToken(token)) throw invalidLink();
    const now = this.o.clock.now();
    return this.o.audit.inTransaction(async (tx, record) => {
      const link = await tx.linkTokens.consume(hashLinkToken(token), ['verify_email', 'change_email'], now);
      if (!link) throw invalidLink();
      if (link.purpose === 'change_email') {
        const changed = await tx.users.changeEmail(link.userId, link.email, identityKey(link.email), now);
        // Someone took the address meanwhile: nothing changes, the link stays unused (rolled back).
        if (changed === 'taken') {
          throw new AppError('user_exists', 'Another account has this address now.', {
            details: [{ field: 'email', problem: 'taken' }],
          });
        }
        if (changed === 'missing') throw invalidLink();
        await record('email.changed', { userId: link.userId, client, data: { to: link.email } });
      } else if (!(await tx.users.markEmailVerified(link.userId, link.email, now))) {
        // The account's address changed since this link was sent: it proves nothing now.
        throw invalidLink();
      } else {
        await record('email.verified', { userId: link.userId, client });
      }
      return link.purpose;
    });
  }

  /**
   * Sets a new password with a reset link. The password rules are checked first, so a weak
   * password leaves the link usable. Every session of the user ends in the same transaction.
   */
  async resetPassword(token: string, newPassword: string, client: ClientInfo | null): Promise<void> {
    const problems = await passwordProblems(newPassword, this.o.passwordRules, 'new_password');
    if (problems.length > 0) throw validationFailed(problems);
    if (!looksLikeLinkToken(token)) throw invalidLink();
    const outbox = this.requireOutbox();
    // Hashed before the transaction, which then holds its locks for milliseconds, not a hash.
    const hash = await this.o.hasher.hash(newPassword);
    const now = this.o.clock.now();
    await this.o.audit.inTransaction(async (tx, record) => {
      const link = await tx.linkTokens.consume(hashLinkToken(token), ['reset_password'], now);
      if (!link) throw invalidLink();
      const user = await tx.users.findById(link.userId);
      if (!user) throw invalidLink();
      if (!(await tx.users.replacePasswordHash(user.id, user.passwordHash, hash, now))) throw invalidLink();
      // Opening the mailed link proved the address too.
      if (user.emailVerifiedAt === null) await tx.users.markEmailVerified(user.id, link.email, now);
      const ended = await tx.sessions.endAllForUser(user.id, 'password_reset', now);
      await record('password.reset', { userId: user.id, client, data: { sessions_ended: ended.length } });
      await outbox.mail(
        tx,
        this.o.renderer.render('password-reset-notice', user.email, { username: user.username, email: user.email }),
      );
    });
    outbox.committed();
  }

  /**
   * Starts an email change: a link to the new address confirms it, and a notice goes to the
   * current one. An address another account has gets no link, and the answer is the same.
   */
  async requestEmailChange(principal: Principal, newEmail: string): Promise<void> {
    const problems = emailProblems(newEmail, 'new_email');
    if (problems.length > 0) throw validationFailed(problems);
    const outbox = this.requireOutbox();
    const email = normalizeEmail(newEmail);
    const key = identityKey(email);
    // The guard loaded the user after the request arrived (or checked its cached copy then).
    const { user } = principal;
    if (identityKey(user.email) === key) return;
    if (await this.o.stores.users.findByEmailKey(key)) return;
    if (!(await this.mayMail(email))) return;
    await this.o.stores.transaction(async (tx) => {
      await this.mailLink(tx, user, {
        purpose: 'change_email',
        to: email,
        template: 'email-change',
        page: 'verify-email',
      });
      await outbox.mail(
        tx,
        this.o.renderer.render('email-change-notice', user.email, {
          username: user.username,
          email: user.email,
          new_email: email,
        }),
      );
    });
    outbox.committed();
  }

  /** The outbox worker's handlers for this service's jobs. */
  jobHandlers(): Record<string, OutboxHandler> {
    const handle =
      (
        send: (tx: TransactionStores, user: UserRecord) => Promise<void>,
        wanted: (user: UserRecord) => boolean,
        event?: 'password.reset_requested',
      ) =>
      async (payload: unknown, entry: { id: string }): Promise<'completed'> => {
        const job = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
        const text = (name: string) => (typeof job[name] === 'string' ? job[name] : null);
        const user = await this.o.stores.users.findByEmailKey(identityKey(text('email') ?? ''));
        const eligible = user !== undefined && !user.disabled && wanted(user) && (await this.mayMail(user.email));
        await this.o.audit.inTransaction(async (tx, record) => {
          if (eligible) {
            await send(tx, user);
            // The request came in earlier; its address and agent came along in the job.
            if (event)
              await record(event, { userId: user.id, client: { ip: text('ip'), userAgent: text('user_agent') } });
          }
          await tx.outbox.complete(entry.id, this.o.clock.now());
        });
        if (eligible) this.o.outbox?.committed();
        return 'completed';
      };
    return {
      [VERIFY_REQUEST]: handle(
        (tx, user) => this.queueVerification(tx, user),
        (user) => user.emailVerifiedAt === null,
      ),
      [RESET_REQUEST]: handle(
        (tx, user) => this.queueReset(tx, user),
        () => true,
        'password.reset_requested',
      ),
    };
  }

  private queueReset(tx: TransactionStores, user: UserRecord): Promise<void> {
    return this.mailLink(tx, user, {
      purpose: 'reset_password',
      to: user.email,
      template: 'reset-password',
      page: 'reset-password',
    });
  }

  private async queueJob(topic: string, email: string, client: ClientInfo | null): Promise<void> {
    const problems = emailProblems(email);
    if (problems.length > 0) throw validationFailed(problems);
    const outbox = this.requireOutbox();
    const job = {
      email: normalizeEmail(email),
      ...(client?.ip ? { ip: client.ip } : {}),
      ...(client?.userAgent ? { user_agent: client.userAgent.slice(0, 512) } : {}),
    };
    await this.o.stores.transaction((tx) => outbox.job(tx, topic, job));
    outbox.committed();
  }

  /**
   * Issues a one-time token of `purpose` for `to` (voiding the user's older one) and queues the
   * mail that carries its link, both in `tx`.
   */
  private async mailLink(
    tx: TransactionStores,
    user: UserRecord,
    link: { purpose: LinkPurpose; to: string; template: TemplateName; page: 'verify-email' | 'reset-password' },
  ): Promise<void> {
    const outbox = this.requireOutbox();
    const ttlSeconds =
      link.purpose === 'reset_password' ? this.o.mail.resetTokenTtlSeconds : this.o.mail.verifyTokenTtlSeconds;
    const { token, hash } = newLinkToken();
    const now = this.o.clock.now();
    await tx.linkTokens.issue({
      hash,
      userId: user.id,
      purpose: link.purpose,
      email: link.to,
      createdAt: now,
      expiresAt: now + ttlSeconds * 1000,
    });
    await outbox.mail(
      tx,
      this.o.renderer.render(link.template, link.to, {
        username: user.username,
        email: user.email,
        new_email: link.to,
        link: `${this.o.publicUrl}/${link.page}?token=${token}`,
        expires: humanDuration(ttlSeconds),
      }),
    );
  }

  private requireOutbox(): Outbox {
    if (!this.o.outbox) throw new AppError('unavailable', 'Mail is turned off on this server (MAIL_DISABLED).');
    return this.o.outbox;
  }
}
