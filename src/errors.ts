/**
 * One error type for the whole service: a stable `code` (a closed union callers can switch on),
 * the HTTP status it maps to, and a public message. The internal cause never reaches a client.
 */
export type ErrorCode =
  | 'authorization_required'
  | 'invalid_token'
  | 'token_expired'
  | 'token_revoked'
  | 'fresh_token_required'
  | 'validation_failed'
  | 'user_exists'
  | 'invalid_credentials'
  | 'too_many_attempts'
  | 'account_disabled'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unavailable'
  | 'internal'
  | 'invalid_link_token'
  | 'email_not_verified'
  | 'invalid_mfa_code'
  | 'mfa_required'
  | 'csrf_failed'
  | 'invalid_client'
  | 'invalid_passkey';

export const STATUS_OF: Readonly<Record<ErrorCode, number>> = {
  authorization_required: 401,
  invalid_token: 401,
  token_expired: 401,
  token_revoked: 401,
  fresh_token_required: 401,
  invalid_credentials: 401,
  validation_failed: 400,
  user_exists: 409,
  too_many_attempts: 429,
  account_disabled: 403,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unavailable: 503,
  internal: 500,
  invalid_link_token: 400,
  email_not_verified: 403,
  invalid_mfa_code: 401,
  mfa_required: 403,
  csrf_failed: 403,
  invalid_client: 401,
  invalid_passkey: 401,
};

export type Problem =
  | 'required'
  | 'wrong_type'
  | 'too_short'
  | 'too_long'
  | 'invalid_format'
  | 'invalid_characters'
  | 'too_common'
  | 'taken'
  | 'out_of_range'
  | 'not_allowed';

export interface FieldProblem {
  field: string;
  problem: Problem;
}

export interface AppErrorOptions {
  details?: FieldProblem[];
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: FieldProblem[] | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = STATUS_OF[code];
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function validationFailed(details: FieldProblem[]): AppError {
  const fields = [...new Set(details.map((d) => d.field))].join(', ');
  return new AppError('validation_failed', `Some fields are not valid: ${fields}.`, { details });
}

/** A store could not be reached or answered too slowly; callers map this to 503 `unavailable`. */
export class StoreUnavailableError extends Error {
  constructor(store: string, cause?: unknown) {
    super(`${store} is unavailable`, cause === undefined ? undefined : { cause });
    this.name = 'StoreUnavailableError';
  }
}
