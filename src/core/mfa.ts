/**
 * Second factors: TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one step of skew either way) with ten
 * single-use recovery codes. A code is accepted at most once, on any instance: each factor
 * stores the last time step it accepted and moves it forward with one conditional update. A
 * login whose password is right gets a single-use challenge token instead of tokens; the
 * second factor then opens the session at assurance level 2.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { Secret, TOTP } from 'otpauth';
import type { Clock } from '../clock.js';
import { sha256Hex } from '../crypto/digest.js';
import type { Sealer } from '../crypto/sealer.js';
import { AppError, type ErrorCode } from '../errors.js';
import type { EngineStores, MfaFactorRecord, UserRecord } from '../store/types.js';
import type { AuditLog } from './audit.js';
import type { LoginThrottle } from './login-throttle.js';
import type { PasskeyService } from './passkeys.js';
import type { SessionService } from './sessions.js';
import type { Assurance, ClientInfo, Principal, TokenPair } from './types.js';

/** What each operation may throw (a failing store is `unavailable`), for the API's list of answers. */
export const MFA_ERRORS = {
  enrol: ['unavailable'],
  confirm: ['invalid_mfa_code', 'not_found', 'validation_failed', 'unavailable'],
  verify: [
    'invalid_token',
    'invalid_mfa_code',
    'too_many_attempts',
    'account_disabled',
    'validation_failed',
    'unavailable',
  ],
  manage: ['mfa_required', 'not_found', 'unavailable'],
} as const satisfies Record<string, readonly ErrorCode[]>;

const PERIOD_SECONDS = 30;
const CHALLENGE_TTL_SECONDS = 5 * 60;
/** Wrong codes a challenge survives; the fifth ends it. */
export const MAX_CHALLENGE_FAILURES = 5;
const RECOVERY_CODES = 10;
/** Crockford's base32: no I, L, O, U, so a code read aloud or typed is not misread. */
const RECOVERY_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export interface Enrolment {
  factorId: string;
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

export interface MfaChallenge {
  mfaToken: string;
  expiresIn: number;
}

export type SecondFactor = { code: string } | { recoveryCode: string } | { passkey: AuthenticationResponseJSON };

export interface MfaServiceOptions {
  stores: Pick<EngineStores, 'mfa' | 'users' | 'sessions' | 'transaction'>;
  sessions: SessionService;
  /** A passkey answers the second step too. */
  passkeys: PasskeyService;
  throttle: LoginThrottle;
  sealer: Sealer;
  issuer: string;
  clock: Clock;
  audit: AuditLog;
}

const wrongCode = () => new AppError('invalid_mfa_code', 'The code is not valid.');
const deadChallenge = () =>
  new AppError('invalid_token', 'This sign-in step has expired or was already used; log in again.');

/** A recovery code as typed: case, spaces and dashes do not matter. */
function normalizeRecoveryCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '');
}

export class MfaService {
  constructor(private readonly o: MfaServiceOptions) {}

  /** Whether the user must give a second factor after the password. */
  async required(userId: string): Promise<boolean> {
    return (await this.o.stores.mfa.listFactors(userId)).some((f) => f.status === 'confirmed');
  }

  /** A new TOTP factor, pending until a code from it is confirmed (an earlier pending one is dropped). */
  async enrolTotp(user: UserRecord): Promise<Enrolment> {
    const secret = new Secret({ size: 20 });
    const totp = this.totp(user.username, secret);
    const factor: MfaFactorRecord = {
      id: randomUUID(),
      userId: user.id,
      type: 'totp',
      status: 'pending',
      secret: this.o.sealer.seal(secret.base32),
      lastStep: null,
      createdAt: this.o.clock.now(),
      confirmedAt: null,
      lastUsedAt: null,
    };
    await this.o.stores.mfa.deletePending(user.id);
    await this.o.stores.mfa.insertFactor(factor);
    const otpauthUri = totp.toString();
    return {
      factorId: factor.id,
      secret: secret.base32,
      otpauthUri,
      // Loaded at the first enrolment: the QR encoder is several MB of resident memory nobody else needs.
      qrSvg: await (await import('qrcode')).default.toString(otpauthUri, { type: 'svg' }),
    };
  }

  /** Confirms a pending factor with a code from it; returns ten new recovery codes, shown once. */
  async confirmTotp(user: UserRecord, factorId: string, code: string, client: ClientInfo | null): Promise<string[]> {
    const factor = await this.o.stores.mfa.findFactor(factorId);
    if (!factor || factor.userId !== user.id || factor.status !== 'pending') {
      throw new AppError('not_found', 'No such pending factor.');
    }
    const step = this.matchingStep(factor, user.username, code);
    if (step === undefined) throw wrongCode();
    const codes = newRecoveryCodes();
    const now = this.o.clock.now();
    await this.o.audit.inTransaction(async (tx, record) => {
      if (!(await tx.mfa.confirmFactor(factor.id, step, now)))
        throw new AppError('not_found', 'No such pending factor.');
      await tx.mfa.replaceRecoveryCodes(
        user.id,
        codes.map((c) => sha256Hex(normalizeRecoveryCode(c))),
        now,
      );
      await record('mfa.enrolled', { userId: user.id, client, data: { factor_id: factor.id, type: factor.type } });
    });
    return codes;
  }

  async list(userId: string): Promise<{ factors: MfaFactorRecord[]; recoveryCodesLeft: number }> {
    const [factors, recoveryCodesLeft] = await Promise.all([
      this.o.stores.mfa.listFactors(userId),
      this.o.stores.mfa.recoveryCodesLeft(userId),
    ]);
    return { factors, recoveryCodesLeft };
  }

  /** Removes one factor; removing the last confirmed one ends the user's other sessions. */
  async removeFactor(principal: Principal, factorId: string, client: ClientInfo | null): Promise<void> {
    const { user, session } = principal;
    const now = this.o.clock.now();
    await this.o.audit.inTransaction(async (tx, record) => {
      if (!(await tx.mfa.deleteFactor(user.id, factorId))) throw new AppError('not_found', 'No such factor.');
      await record('mfa.removed', { userId: user.id, sessionId: session.id, client, data: { factor_id: factorId } });
      const left = (await tx.mfa.listFactors(user.id)).filter((f) => f.status === 'confirmed');
      if (left.length === 0) {
        await tx.mfa.replaceRecoveryCodes(user.id, [], now);
        // Whatever else signed in with the second factor should not outlive it.
        await tx.sessions.endAllForUser(user.id, 'mfa_removed', now, session.id);
      }
    });
  }

  async regenerateRecoveryCodes(user: UserRecord): Promise<string[]> {
    if (!(await this.required(user.id))) throw new AppError('not_found', 'There is no confirmed factor to recover.');
    const codes = newRecoveryCodes();
    await this.o.stores.mfa.replaceRecoveryCodes(
      user.id,
      codes.map((c) => sha256Hex(normalizeRecoveryCode(c))),
      this.o.clock.now(),
    );
    return codes;
  }

  /** An admin's reset: every factor and recovery code goes, and every session of the user ends. */
  async removeAll(userId: string, actorId: string, client: ClientInfo | null): Promise<void> {
    const now = this.o.clock.now();
    await this.o.audit.inTransaction(async (tx, record) => {
      if (!(await tx.users.findById(userId))) throw new AppError('not_found', 'No such user.');
      await tx.mfa.deleteAllFactors(userId);
      await record('mfa.removed', { userId, actorId, client, data: { factor_id: 'all' } });
      await tx.sessions.endAllForUser(userId, 'mfa_removed', now);
    });
  }

  /** Passkey request options for answering this second step (the mfa_token stays unused). */
  async passkeyOptions(mfaToken: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const hash = sha256Hex(mfaToken);
    const challenge = await this.o.stores.mfa.findChallenge(hash, this.o.clock.now(), MAX_CHALLENGE_FAILURES);
    if (!challenge) throw deadChallenge();
    return this.o.passkeys.mfaOptions(challenge.userId, hash);
  }

  /** After a right password: the token for the second step, single-use, for five minutes. */
  async challenge(user: UserRecord): Promise<MfaChallenge> {
    const token = randomBytes(32).toString('base64url');
    const now = this.o.clock.now();
    await this.o.stores.mfa.insertChallenge(
      { hash: sha256Hex(token), userId: user.id, expiresAt: now + CHALLENGE_TTL_SECONDS * 1000, failures: 0 },
      now,
    );
    return { mfaToken: token, expiresIn: CHALLENGE_TTL_SECONDS };
  }

  /** The second step of a login: a TOTP code or a recovery code opens the session at aal 2. */
  async verify(mfaToken: string, factor: SecondFactor, client: ClientInfo): Promise<TokenPair> {
    const now = this.o.clock.now();
    const hash = sha256Hex(mfaToken);
    const challenge = await this.o.stores.mfa.findChallenge(hash, now, MAX_CHALLENGE_FAILURES);
    if (!challenge) throw deadChallenge();
    const user = await this.o.stores.users.findById(challenge.userId);
    if (!user) throw deadChallenge();
    const account = `user:${user.id}`;
    const ip = client.ip ?? 'unknown';
    const failed = (reason: 'throttled' | 'mfa_failed' | 'disabled') =>
      this.o.audit.recordAlone('login.failed', { userId: user.id, client, data: { reason } });
    try {
      await this.o.throttle.assertAllowed(account, ip);
    } catch (error) {
      await failed('throttled');
      throw error;
    }

    const assurance = await this.check(user, hash, factor, now, client);
    if (!assurance) {
      await Promise.all([this.o.stores.mfa.failChallenge(hash), this.o.throttle.recordFailure(account, ip)]);
      await failed('mfa_failed');
      throw wrongCode();
    }
    // The code is spent either way; the challenge decides which of two racing requests logs in.
    if (!(await this.o.stores.mfa.consumeChallenge(hash, now))) throw deadChallenge();
    await this.o.throttle.recordSuccess(account, ip);
    if (user.disabled) {
      await failed('disabled');
      throw new AppError('account_disabled', 'This account has been disabled.');
    }
    return this.o.sessions.open(user, client, assurance);
  }

  private async check(
    user: UserRecord,
    mfaTokenHash: string,
    factor: SecondFactor,
    now: number,
    client: ClientInfo,
  ): Promise<Assurance | undefined> {
    if ('passkey' in factor) {
      const verified = await this.o.passkeys.verifySecondFactor(user, mfaTokenHash, factor.passkey, client);
      return verified ? { aal: 2, amr: ['pwd', 'hwk'] } : undefined;
    }
    if ('recoveryCode' in factor) {
      const used = await this.o.audit.inTransaction(async (tx, record) => {
        const spent = await tx.mfa.useRecoveryCode(user.id, sha256Hex(normalizeRecoveryCode(factor.recoveryCode)), now);
        if (spent) await record('mfa.recovery_code_used', { userId: user.id, client });
        return spent;
      });
      return used ? { aal: 2, amr: ['pwd', 'recovery'] } : undefined;
    }
    for (const candidate of await this.o.stores.mfa.listFactors(user.id)) {
      if (candidate.status !== 'confirmed') continue;
      const step = this.matchingStep(candidate, user.username, factor.code);
      // Accepted only if no request (here or on another instance) took this step or a later one.
      if (step !== undefined && (await this.o.stores.mfa.acceptStep(candidate.id, step, now))) {
        return { aal: 2, amr: ['pwd', 'otp'] };
      }
    }
    return undefined;
  }

  /** The time step whose code `code` is, within one step of now either way; undefined if none. */
  private matchingStep(factor: MfaFactorRecord, username: string, code: string): number | undefined {
    const digits = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(digits)) return undefined;
    const totp = this.totp(username, Secret.fromBase32(this.o.sealer.open(factor.secret)));
    const now = this.o.clock.now();
    const delta = totp.validate({ token: digits, timestamp: now, window: 1 });
    return delta === null ? undefined : Math.floor(now / 1000 / PERIOD_SECONDS) + delta;
  }

  private totp(username: string, secret: Secret): TOTP {
    return new TOTP({
      issuer: this.o.issuer,
      label: username,
      algorithm: 'SHA1',
      digits: 6,
      period: PERIOD_SECONDS,
      secret,
    });
  }
}

/** Ten codes of 16 characters (80 bits) as XXXX-XXXX-XXXX-XXXX; stored only as SHA-256. */
function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODES }, () => {
    const chars = Array.from({ length: 16 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
    return chars.match(/.{4}/g)?.join('-') ?? chars;
  });
}
