/**
 * What a new password must satisfy: length in code points (NIST SP 800-63B counts characters,
 * not bytes) and absence from a list of commonly used passwords.
 */
import type { FieldProblem } from '../errors.js';

export interface PasswordRules {
  minLength: number;
  maxLength: number;
}

let common: Promise<ReadonlySet<string>> | undefined;

/**
 * zxcvbn-ts's ranked list of passwords seen most in breaches, loaded on first use: its module
 * holds some 15 MB of resident memory, which an instance that only verifies tokens never needs.
 */
function commonPasswords(): Promise<ReadonlySet<string>> {
  common ??= import('@zxcvbn-ts/language-common').then(({ dictionary }) => new Set(dictionary['passwords-common']));
  return common;
}

export async function isCommonPassword(password: string): Promise<boolean> {
  return (await commonPasswords()).has(password.toLowerCase());
}

export async function passwordProblems(
  password: string,
  rules: PasswordRules,
  field = 'password',
): Promise<FieldProblem[]> {
  let length = 0;
  for (const _ of password) {
    if (++length > rules.maxLength) return [{ field, problem: 'too_long' }];
  }
  if (length < rules.minLength) return [{ field, problem: 'too_short' }];
  if (await isCommonPassword(password)) return [{ field, problem: 'too_common' }];
  return [];
}
