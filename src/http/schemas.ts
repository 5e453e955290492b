/**
 * Request and response schemas: one definition gives validation, the TypeScript types of
 * handlers, fast serialisation and the OpenAPI document. Built from the config because the
 * password length bounds are configurable.
 */
import { Type } from 'typebox';
import type { Config } from '../config.js';
import { EMAIL_MAX, USERNAME_MAX, USERNAME_MIN } from '../core/identity.js';

export const MessageBody = Type.Object({ message: Type.String() });

export const Tokens = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Access token lifetime in seconds.' }),
});

export const UserSummary = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.String(),
  roles: Type.Array(Type.String()),
  disabled: Type.Boolean(),
  email_verified: Type.Boolean({ description: 'Whether the address was proven by a mailed link.' }),
  created_at: Type.String({ format: 'date-time' }),
});

/** Whoami's `user_details`: the summary an admin sees, less the flag a disabled user never reaches. */
export const UserDetails = Type.Omit(UserSummary, ['disabled']);

export const SessionView = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
  aal: Type.Integer({
    description: 'Assurance level the session was opened with: 1 a password, 2 a second factor too.',
  }),
  amr: Type.Array(Type.String(), { description: 'How it was opened (RFC 8176): pwd, otp, recovery.' }),
});

export const RefreshTokenBody = Type.Object({
  refresh_token: Type.Optional(Type.String({ maxLength: 8192 })),
});

/** A body naming an address: the answer is the same whether or not it has an account. */
export const EmailBody = Type.Object({ email: Type.String({ minLength: 1, maxLength: EMAIL_MAX }) });

export const LinkTokenBody = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 256, description: 'From the link in the mail.' }),
});

export const MfaCode = Type.String({
  minLength: 1,
  maxLength: 16,
  description: 'The 6 digits the authenticator app shows.',
});

export const NewEmailBody = Type.Object({ new_email: Type.String({ minLength: 1, maxLength: EMAIL_MAX }) });

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export function bodySchemas(config: Config) {
  const password = (description: string) =>
    Type.String({ minLength: config.password.minLength, maxLength: config.password.maxLength, description });
  return {
    register: Type.Object({
      username: Type.String({
        minLength: USERNAME_MIN,
        maxLength: USERNAME_MAX,
        description: 'Letters and digits of any script, `_`, `.` and `-`. Unique ignoring case, after NFKC.',
      }),
      email: Type.String({ maxLength: EMAIL_MAX, description: 'Unique ignoring case, after NFKC.' }),
      password: password('Not one of the most common passwords.'),
    }),
    login: Type.Object({
      username: Type.Optional(Type.String({ minLength: 1, maxLength: EMAIL_MAX, description: 'Username or email.' })),
      email: Type.Optional(Type.String({ minLength: 1, maxLength: EMAIL_MAX })),
      password: Type.String({ minLength: 1, maxLength: config.password.maxLength }),
    }),
    resetPassword: Type.Object({
      token: Type.String({ minLength: 1, maxLength: 256, description: 'From the link in the reset mail.' }),
      new_password: password('Same rules as at registration.'),
    }),
    changePassword: Type.Object({
      current_password: Type.String({ minLength: 1, maxLength: config.password.maxLength }),
      new_password: password('Same rules as at registration.'),
    }),
  };
}
