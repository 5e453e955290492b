/**
 * How a route that opens or refreshes a session answers: the tokens in the body (the Flask
 * app's fields), or, with `"transport": "cookie"`, in HttpOnly cookies with only the CSRF token
 * and the lifetime in the body, so a browser app never holds a token where script can read it.
 */
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { TokenPair } from '../../core/types.js';
import type { CookieTransport } from '../browser/cookies.js';
import { Tokens } from '../schemas.js';

export type TransportChoice = 'body' | 'cookie';

export const Transport = Type.Optional(
  Type.Union([Type.Literal('body'), Type.Literal('cookie')], {
    default: 'body',
    description: '`cookie`: the tokens are set as HttpOnly cookies and the body carries `csrf_token` instead.',
  }),
);

const cookieFields = {
  csrf_token: Type.String({ description: 'Send it back as the X-CSRF-Token header on unsafe requests.' }),
  expires_in: Type.Integer({ description: 'Access token lifetime in seconds.' }),
};
const COOKIE_NOTE = 'With "transport": "cookie": the tokens are in Set-Cookie, never in the body.';

/** What a login that opened a session answers (the Flask app's fields). */
export const LoginAnswer = Type.Object({ message: Type.String(), tokens: Tokens });
export const CookieLoginAnswer = Type.Object({ message: Type.String(), ...cookieFields }, { description: COOKIE_NOTE });
export const CookieTokens = Type.Object(cookieFields, { description: COOKIE_NOTE });

export const tokensBody = (pair: TokenPair) => ({
  access_token: pair.accessToken,
  refresh_token: pair.refreshToken,
  token_type: 'Bearer' as const,
  expires_in: pair.expiresIn,
});

export function loginAnswer(
  reply: FastifyReply,
  cookies: CookieTransport,
  pair: TokenPair,
  transport?: TransportChoice,
) {
  const message = 'Login successful';
  if (transport !== 'cookie') return { message, tokens: tokensBody(pair) };
  return { message, csrf_token: cookies.set(reply, pair), expires_in: pair.expiresIn };
}

export function refreshAnswer(
  reply: FastifyReply,
  cookies: CookieTransport,
  pair: TokenPair,
  transport: TransportChoice,
) {
  if (transport !== 'cookie') return tokensBody(pair);
  return { csrf_token: cookies.set(reply, pair), expires_in: pair.expiresIn };
}
