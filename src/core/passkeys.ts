/**
 * Passkeys (WebAuthn): adding them to an account, signing in with one instead of a password,
 * and answering the MFA step with one. The ceremony itself (CBOR, attestation, signatures,
 * origin, rp id, user verification) is @simplewebauthn/server's; this module decides which
 * challenge a response may answer, whose credential it is, and what a sign-in is worth.
 *
 * Every challenge is single-use, bound to its ceremony (and to the session that asked to
 * register, or the mfa_token it completes) and lives five minutes. A response is refused with
 * one `invalid_passkey`, whatever was wrong, so a failure teaches nothing.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Clock } from '../clock.js';
import { deriveKey } from '../crypto/derive-key.js';
import { AppError, type ErrorCode } from '../errors.js';
import type {
  EngineStores,
  PasskeyCeremony,
  PasskeyChallengeRecord,
  PasskeyRecord,
  UserRecord,
} from '../store/types.js';
import type { AuditLog } from './audit.js';
import { findByIdentifier, identityKey } from './identity.js';
import type { LoginThrottle } from './login-throttle.js';
import type { SessionService } from './sessions.js';
import type { Assurance, ClientInfo, Principal, TokenPair } from './types.js';

export const PASSKEY_ERRORS = {
  registerOptions: ['unavailable'],
  register: ['invalid_passkey', 'validation_failed', 'unavailable'],
  manage: ['not_found', 'validation_failed', 'unavailable'],
  remove: ['not_found', 'forbidden', 'unavailable'],
  loginOptions: ['invalid_token', 'unavailable'],
  login: ['invalid_passkey', 'account_disabled', 'email_not_verified', 'too_many_attempts', 'unavailable'],
} as const satisfies Record<string, readonly ErrorCode[]>;

const CHALLENGE_TTL_SECONDS = 5 * 60;
export const PASSKEY_NAME_MAX = 64;

/** A passkey sign-in: possession of the authenticator and the user's verification by it. */
export const PASSKEY_ASSURANCE: Assurance = { aal: 2, amr: ['hwk'] };

export interface RelyingParty {
  /** The domain credentials are scoped to: PUBLIC_URL's host or a parent domain of it. */
  id: string;
  name: string;
  /** Origins whose pages may run a ceremony: PUBLIC_URL's and CORS_ORIGINS. */
  origins: readonly string[];
}

export interface PasskeyServiceOptions {
  stores: Pick<EngineStores, 'passkeys' | 'users'>;
  sessions: SessionService;
  throttle: LoginThrottle;
  audit: AuditLog;
  clock: Clock;
  rp: RelyingParty;
  /** Keys the stand-in credential ids offered for unknown usernames. */
  secret: string;
  requireEmailVerification: boolean;
  /** Whether the user can still sign in with a password (the last passkey may go only then). */
  passwordUsable(user: UserRecord): boolean;
}

/**
 * The WebAuthn library (with its ASN.1 and X.509 parsers) adds about 25 MB to the process, so it
 * is loaded at the first ceremony, not at start: an instance nobody uses passkeys on never pays.
 */
let library: Promise<typeof import('@simplewebauthn/server')> | undefined;
const webauthn = () => (library ??= import('@simplewebauthn/server'));

const refused = () => new AppError('invalid_passkey', 'The passkey could not be verified; try again.');

/** The challenge a response claims to answer, read from its clientDataJSON (plain JSON). */
export function challengeOf(response: { response: { clientDataJSON: string } }): string | undefined {
  try {
    const data: unknown = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8'));
    const challenge = typeof data === 'object' && data !== null ? Reflect.get(data, 'challenge') : undefined;
    return typeof challenge === 'string' && challenge.length > 0 && challenge.length <= 64 ? challenge : undefined;
  } catch {
    return undefined;
  }
}

export class PasskeyService {
  private readonly standInKey: Buffer;

  constructor(private readonly o: PasskeyServiceOptions) {
    this.standInKey = deriveKey(o.secret, 'passkey-stand-in');
  }

  list(userId: string): Promise<PasskeyRecord[]> {
    return this.o.stores.passkeys.listForUser(userId);
  }

  /** Creation options for the signed-in user; the user handle is random and kept across their passkeys. */
  async registrationOptions(principal: Principal): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const { user, session } = principal;
    const existing = await this.o.stores.passkeys.listForUser(user.id);
    const userHandle = existing[0]?.userHandle ?? randomBytes(32).toString('base64url');
    const challenge = await this.newChallenge('register', { userId: user.id, sessionId: session.id, userHandle });
    const { generateRegistrationOptions } = await webauthn();
    return generateRegistrationOptions({
      rpName: this.o.rp.name,
      rpID: this.o.rp.id,
      userName: user.username,
      userDisplayName: user.username,
      userID: Buffer.from(userHandle, 'base64url'),
      challenge: Buffer.from(challenge, 'base64url'),
      timeout: CHALLENGE_TTL_SECONDS * 1000,
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    });
  }

  /** Verifies the authenticator's answer to this session's registration challenge and keeps the passkey. */
  async register(
    principal: Principal,
    response: RegistrationResponseJSON,
    name: string | undefined,
    client: ClientInfo,
  ): Promise<PasskeyRecord> {
    const { user, session } = principal;
    const now = this.o.clock.now();
    const challenge = await this.take(response, 'register', now);
    if (!challenge || challenge.userId !== user.id || challenge.sessionId !== session.id || !challenge.userHandle) {
      throw refused();
    }
    const { verifyRegistrationResponse } = await webauthn();
    const verification = await verifyRegistrationResponse({ response, ...this.expected(challenge) }).catch(
      () => undefined,
    );
    if (!verification?.verified) throw refused();
    const { credential, credentialDeviceType, credentialBackedUp } = verification.registrationInfo;
    const passkey: PasskeyRecord = {
      id: credential.id,
      userId: user.id,
      userHandle: challenge.userHandle,
      name: passkeyName(name, now),
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: (credential.transports ?? []).filter(isTransport),
      deviceType: credentialDeviceType,
      backedUp: credentialBackedUp,
      createdAt: now,
      lastUsedAt: null,
    };
    await this.o.audit.inTransaction(async (tx, record) => {
      if ((await tx.passkeys.insert(passkey)) === 'taken') {
        throw new AppError('validation_failed', 'This passkey is already registered.', {
          details: [{ field: 'response', problem: 'taken' }],
        });
      }
      await record('passkey.added', {
        userId: user.id,
        sessionId: session.id,
        client,
        data: { passkey_id: passkey.id },
      });
    });
    return passkey;
  }

  async rename(principal: Principal, id: string, name: string, client: ClientInfo): Promise<void> {
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > PASSKEY_NAME_MAX) {
      throw new AppError('validation_failed', 'Give the passkey a name of 1 to 64 characters.', {
        details: [{ field: 'name', problem: trimmed.length === 0 ? 'too_short' : 'too_long' }],
      });
    }
    const { user, session } = principal;
    await this.o.audit.inTransaction(async (tx, record) => {
      if (!(await tx.passkeys.rename(user.id, id, trimmed))) throw new AppError('not_found', 'No such passkey.');
      await record('passkey.renamed', { userId: user.id, sessionId: session.id, client, data: { passkey_id: id } });
    });
  }

  /** Removes one passkey; never the last way the user has to sign in. */
  async remove(principal: Principal, id: string, client: ClientInfo): Promise<void> {
    const { user, session } = principal;
    await this.o.audit.inTransaction(async (tx, record) => {
      if (!(await tx.passkeys.delete(user.id, id))) throw new AppError('not_found', 'No such passkey.');
      if (!this.o.passwordUsable(user) && (await tx.passkeys.listForUser(user.id)).length === 0) {
        throw new AppError('forbidden', 'This is the last way to sign in to the account; set a password first.');
      }
      await record('passkey.removed', { userId: user.id, sessionId: session.id, client, data: { passkey_id: id } });
    });
  }

  /**
   * Request options for a sign-in. Without a username the browser offers the accounts it holds
   * (discoverable credentials). With one, its passkeys are listed; a username that is unknown or
   * has none gets a stand-in id derived from it, the same on every call, so the answer does not
   * tell whether the account exists.
   */
  async loginOptions(username: string | undefined): Promise<PublicKeyCredentialRequestOptionsJSON> {
    let allow: string[] = [];
    let userId: string | null = null;
    if (username !== undefined) {
      const user = await findByIdentifier(this.o.stores.users, { username });
      const passkeys = user ? await this.o.stores.passkeys.listForUser(user.id) : [];
      if (user && passkeys.length > 0) {
        userId = user.id;
        allow = passkeys.map((p) => p.id);
      } else {
        allow = [this.standInId(username)];
      }
    }
    const challenge = await this.newChallenge('login', { userId });
    return this.requestOptions(challenge, allow);
  }

  /** Request options for the MFA step of a password login: the user's passkeys, bound to its mfa_token. */
  async mfaOptions(userId: string, mfaTokenHash: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const passkeys = await this.o.stores.passkeys.listForUser(userId);
    const challenge = await this.newChallenge('mfa', { userId, mfaTokenHash });
    return this.requestOptions(
      challenge,
      passkeys.map((p) => p.id),
    );
  }

  /** A sign-in with a passkey alone: opens a session at aal 2 (the authenticator verified the user). */
  async login(response: AuthenticationResponseJSON, client: ClientInfo): Promise<TokenPair> {
    const now = this.o.clock.now();
    const ip = client.ip ?? 'unknown';
    const challenge = await this.take(response, 'login', now);
    // Looked up even when the challenge is dead, so a replay counts against the account it names.
    const passkey = await this.o.stores.passkeys.findById(response.id);
    const user = passkey ? await this.o.stores.users.findById(passkey.userId) : undefined;
    const failed = async (
      userId: string | null,
      reason: 'passkey_failed' | 'throttled' | 'disabled' | 'email_not_verified',
    ) => {
      await this.o.audit.recordAlone('login.failed', { userId, client, data: { reason } });
    };
    if (!challenge || !passkey || !user || (challenge.userId !== null && challenge.userId !== user.id)) {
      await failed(user?.id ?? null, 'passkey_failed');
      if (user) await this.o.throttle.recordFailure(`user:${user.id}`, ip);
      throw refused();
    }
    const account = `user:${user.id}`;
    try {
      await this.o.throttle.assertAllowed(account, ip);
    } catch (error) {
      await failed(user.id, 'throttled');
      throw error;
    }
    // A discoverable sign-in names the account only by the handle the authenticator kept.
    const handle = response.response.userHandle;
    const handleFits = handle === undefined ? challenge.userId !== null : handle === passkey.userHandle;
    if (!handleFits || !(await this.assertion(passkey, challenge, response, client))) {
      await this.o.throttle.recordFailure(account, ip);
      await failed(user.id, 'passkey_failed');
      throw refused();
    }
    await this.o.throttle.recordSuccess(account, ip);
    if (user.disabled) {
      await failed(user.id, 'disabled');
      throw new AppError('account_disabled', 'This account has been disabled.');
    }
    if (this.o.requireEmailVerification && user.emailVerifiedAt === null) {
      await failed(user.id, 'email_not_verified');
      throw new AppError('email_not_verified', 'Confirm your email address first: use the link we mailed you.');
    }
    return this.o.sessions.open(user, client, PASSKEY_ASSURANCE);
  }

  /** The MFA step answered with a passkey: true when it is one of the user's and answers that step's challenge. */
  async verifySecondFactor(
    user: UserRecord,
    mfaTokenHash: string,
    response: AuthenticationResponseJSON,
    client: ClientInfo,
  ): Promise<boolean> {
    const challenge = await this.take(response, 'mfa', this.o.clock.now());
    if (!challenge || challenge.userId !== user.id || challenge.mfaTokenHash !== mfaTokenHash) return false;
    const passkey = await this.o.stores.passkeys.findById(response.id);
    if (!passkey || passkey.userId !== user.id) return false;
    const handle = response.response.userHandle;
    if (handle !== undefined && handle !== passkey.userHandle) return false;
    return this.assertion(passkey, challenge, response, client);
  }

  /** Deletes used and expired challenges. */
  purge(now: number): Promise<number> {
    return this.o.stores.passkeys.purge(now);
  }

  /**
   * Checks the signature, origin, rp id and user verification, then the counter. The library is
   * given a counter of 0 so that it judges the signature first: a counter that went back is then
   * known to come from the real credential (a clone), refused, and recorded.
   */
  private async assertion(
    passkey: PasskeyRecord,
    challenge: PasskeyChallengeRecord,
    response: AuthenticationResponseJSON,
    client: ClientInfo,
  ): Promise<boolean> {
    const { verifyAuthenticationResponse } = await webauthn();
    const verification = await verifyAuthenticationResponse({
      response,
      ...this.expected(challenge),
      credential: {
        id: passkey.id,
        publicKey: Buffer.from(passkey.publicKey, 'base64url'),
        counter: 0,
        transports: passkey.transports.filter(isTransport),
      },
    }).catch(() => undefined);
    if (!verification?.verified || !verification.authenticationInfo.userVerified) return false;
    const next = verification.authenticationInfo.newCounter;
    if ((next > 0 || passkey.counter > 0) && next <= passkey.counter) {
      await this.o.audit.recordAlone('passkey.counter_regressed', {
        userId: passkey.userId,
        client,
        data: { passkey_id: passkey.id, stored: passkey.counter, presented: next },
      });
      return false;
    }
    // Two sign-ins racing with one counter value: only one moves it.
    return this.o.stores.passkeys.recordUse(passkey.id, passkey.counter, next, this.o.clock.now());
  }

  /** What every response must show, whatever the ceremony: our challenge, origin and rp id, a verified user. */
  private expected(challenge: PasskeyChallengeRecord) {
    return {
      expectedChallenge: challenge.challenge,
      expectedOrigin: [...this.o.rp.origins],
      expectedRPID: this.o.rp.id,
      requireUserVerification: true,
    };
  }

  private async take(
    response: { response: { clientDataJSON: string } },
    ceremony: PasskeyCeremony,
    now: number,
  ): Promise<PasskeyChallengeRecord | undefined> {
    const challenge = challengeOf(response);
    return challenge === undefined ? undefined : this.o.stores.passkeys.consumeChallenge(challenge, ceremony, now);
  }

  private async newChallenge(
    ceremony: PasskeyCeremony,
    bound: Partial<Pick<PasskeyChallengeRecord, 'userId' | 'sessionId' | 'mfaTokenHash' | 'userHandle'>>,
  ): Promise<string> {
    const now = this.o.clock.now();
    const challenge = randomBytes(32).toString('base64url');
    await this.o.stores.passkeys.insertChallenge(
      {
        challenge,
        ceremony,
        userId: bound.userId ?? null,
        sessionId: bound.sessionId ?? null,
        mfaTokenHash: bound.mfaTokenHash ?? null,
        userHandle: bound.userHandle ?? null,
        expiresAt: now + CHALLENGE_TTL_SECONDS * 1000,
      },
      now,
    );
    return challenge;
  }

  private async requestOptions(
    challenge: string,
    allow: readonly string[],
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const { generateAuthenticationOptions } = await webauthn();
    return generateAuthenticationOptions({
      rpID: this.o.rp.id,
      challenge: Buffer.from(challenge, 'base64url'),
      timeout: CHALLENGE_TTL_SECONDS * 1000,
      userVerification: 'required',
      // Transports are left out so a stand-in id looks like a real one.
      allowCredentials: allow.map((id) => ({ id })),
    });
  }

  private standInId(username: string): string {
    return createHmac('sha256', this.standInKey).update(identityKey(username)).digest().toString('base64url');
  }
}

const TRANSPORTS: readonly string[] = ['ble', 'hybrid', 'internal', 'nfc', 'usb'];
const isTransport = (t: string): t is AuthenticatorTransport => TRANSPORTS.includes(t);

function passkeyName(name: string | undefined, now: number): string {
  const trimmed = name?.trim().slice(0, PASSKEY_NAME_MAX) ?? '';
  return trimmed.length > 0 ? trimmed : `Passkey added ${new Date(now).toISOString().slice(0, 10)}`;
}
