/** Why a token was refused, with the status a resource server should answer. */
export type VerifyErrorCode =
  | 'authorization_required'
  | 'invalid_token'
  | 'token_expired'
  | 'token_revoked'
  | 'forbidden'
  | 'mfa_required'
  | 'unavailable';

const STATUS: Record<VerifyErrorCode, number> = {
  authorization_required: 401,
  invalid_token: 401,
  token_expired: 401,
  token_revoked: 401,
  forbidden: 403,
  mfa_required: 403,
  unavailable: 503,
};

export class VerifyError extends Error {
  readonly status: number;
  constructor(
    readonly code: VerifyErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'VerifyError';
    this.status = STATUS[code];
  }
}
