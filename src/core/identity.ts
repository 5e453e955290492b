/**
 * Rules for usernames and emails. Uniqueness is decided on a key: NFKC first (so full-width and
 * compatibility look-alikes collapse to one form), then lower case.
 */
import type { FieldProblem } from '../errors.js';
import type { UserRecord, UserStore } from '../store/types.js';

export const USERNAME_MIN = 3;
export const USERNAME_MAX = 32;
export const EMAIL_MAX = 254;
/** Letters and digits of any script, plus `_`, `.` and `-`. */
const USERNAME_CHARS = /^[\p{L}\p{N}_.-]+$/u;
// The WHATWG HTML "valid e-mail address" shape, requiring a dot in the domain.
const EMAIL_SHAPE =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;

/** The display form we store: NFKC, case kept. */
export function normalizeUsername(raw: string): string {
  return raw.normalize('NFKC');
}

export function normalizeEmail(raw: string): string {
  return raw.normalize('NFKC');
}

/**
 * The form two names are compared in. Upper- then lower-casing approximates Unicode full case
 * folding, which lower-casing alone misses where an upper case expands ('ß' → 'SS', 'ᾀ' → 'ἈΙ').
 * One round is not always enough: 'ẞ' lowers to 'ß', which only a second round folds to 'ss'.
 * So fold until nothing changes (two rounds suffice for every code point; four is a safe bound).
 */
export function identityKey(raw: string): string {
  let key = raw.normalize('NFKC');
  for (let round = 0; round < 4; round++) {
    const next = key.toUpperCase().toLowerCase().normalize('NFKC');
    if (next === key) break;
    key = next;
  }
  return key;
}

function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}

export function usernameProblems(raw: string): FieldProblem[] {
  const value = normalizeUsername(raw);
  const length = codePoints(value);
  if (length < USERNAME_MIN) return [{ field: 'username', problem: 'too_short' }];
  if (length > USERNAME_MAX) return [{ field: 'username', problem: 'too_long' }];
  if (!USERNAME_CHARS.test(value)) return [{ field: 'username', problem: 'invalid_characters' }];
  return [];
}

export function emailProblems(raw: string, field = 'email'): FieldProblem[] {
  const value = normalizeEmail(raw);
  if (value.length > EMAIL_MAX) return [{ field, problem: 'too_long' }];
  if (!EMAIL_SHAPE.test(value)) return [{ field, problem: 'invalid_format' }];
  return [];
}

/** A login identifier is an email when it has an `@`, which no username can contain. */
export function looksLikeEmail(identifier: string): boolean {
  return identifier.includes('@');
}

export type LoginIdentifier = { username: string } | { email: string };

/** The user a login names, by username or email. */
export function findByIdentifier(
  users: Pick<UserStore, 'findByEmailKey' | 'findByUsernameKey'>,
  identifier: LoginIdentifier,
): Promise<UserRecord | undefined> {
  if ('email' in identifier) return users.findByEmailKey(identityKey(identifier.email));
  // No username contains '@', so such a value can only be an email.
  if (looksLikeEmail(identifier.username)) return users.findByEmailKey(identityKey(identifier.username));
  return users.findByUsernameKey(identityKey(identifier.username));
}
