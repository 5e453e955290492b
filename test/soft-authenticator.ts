/**
 * A software WebAuthn authenticator (ES256, "none" attestation) for the inject tests: it builds
 * and signs responses the way a platform authenticator does, and can be told to lie (another
 * origin, another rp id, another user handle, an old counter) so each server check is seen to
 * refuse. The browser suite uses Chromium's own virtual authenticator instead.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { encodeCBOR } from '@levischuck/tiny-cbor';

interface Credential {
  id: Buffer;
  key: KeyObject;
  userHandle: string;
  counter: number;
}

export interface CeremonyOverrides {
  origin?: string;
  rpId?: string;
  /** Answer a challenge other than the one in the options. */
  challenge?: string;
  /** Clear the user-verified flag. */
  unverified?: boolean;
  /** Registration: claim this credential id (base64url) for the new key. */
  credentialId?: string;
}

export interface AssertionOverrides extends CeremonyOverrides {
  credentialId?: string;
  /** The user handle to claim; null leaves it out. */
  userHandle?: string | null;
  /** The counter to sign with (default: one more than the last). */
  counter?: number;
}

interface CreationOptionsJson {
  challenge: string;
  rp: { id?: string };
  user: { id: string };
}

interface RequestOptionsJson {
  challenge: string;
  allowCredentials?: { id: string }[];
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

export class SoftAuthenticator {
  readonly credentials: Credential[] = [];

  constructor(
    private readonly origin: string,
    private readonly rpId: string,
  ) {}

  create(options: CreationOptionsJson, overrides: CeremonyOverrides = {}) {
    const id = overrides.credentialId ? Buffer.from(overrides.credentialId, 'base64url') : randomBytes(16);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const credential: Credential = { id, key: privateKey, userHandle: options.user.id, counter: 0 };
    this.credentials.push(credential);
    const jwk = publicKey.export({ format: 'jwk' });
    const coseKey = encodeCBOR(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x ?? '', 'base64url')],
        [-3, Buffer.from(jwk.y ?? '', 'base64url')],
      ]),
    );
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const authData = Buffer.concat([this.authDataHead(overrides, FLAG_AT, 0), Buffer.alloc(16), idLength, id, coseKey]);
    const clientData = this.clientData('webauthn.create', overrides.challenge ?? options.challenge, overrides);
    return {
      id: b64url(id),
      rawId: b64url(id),
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64url(clientData),
        attestationObject: b64url(
          encodeCBOR(
            new Map<string, string | Map<string, number> | Uint8Array>([
              ['fmt', 'none'],
              ['attStmt', new Map<string, number>()],
              ['authData', authData],
            ]),
          ),
        ),
        transports: ['internal'],
      },
      clientExtensionResults: {},
    };
  }

  get(options: RequestOptionsJson, overrides: AssertionOverrides = {}) {
    const credential = overrides.credentialId
      ? this.credentials.find((c) => b64url(c.id) === overrides.credentialId)
      : (this.credentials.find((c) => options.allowCredentials?.some((a) => a.id === b64url(c.id))) ??
        this.credentials.at(-1));
    if (!credential) throw new Error('no credential for these options');
    const counter = overrides.counter ?? credential.counter + 1;
    credential.counter = Math.max(credential.counter, counter);
    const authData = this.authDataHead(overrides, 0, counter);
    const clientData = this.clientData('webauthn.get', overrides.challenge ?? options.challenge, overrides);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), credential.key);
    const userHandle = overrides.userHandle === undefined ? credential.userHandle : overrides.userHandle;
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle !== null && { userHandle }),
      },
      clientExtensionResults: {},
    };
  }

  private authDataHead(overrides: CeremonyOverrides, extraFlags: number, counter: number): Buffer {
    const counterBytes = Buffer.alloc(4);
    counterBytes.writeUInt32BE(counter);
    const flags = FLAG_UP | (overrides.unverified ? 0 : FLAG_UV) | extraFlags;
    return Buffer.concat([sha256(overrides.rpId ?? this.rpId), Buffer.from([flags]), counterBytes]);
  }

  private clientData(type: string, challenge: string, overrides: CeremonyOverrides): Buffer {
    return Buffer.from(
      JSON.stringify({ type, challenge, origin: overrides.origin ?? this.origin, crossOrigin: false }),
    );
  }
}
