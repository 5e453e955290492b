/**
 * What a new password must satisfy: length in code points (NIST SP 800-63B counts characters,
 * not bytes) and absence from a list of commonly used passwords.
 */
import { dictionary } from '@zxcvbn-ts/language-common';
import type { FieldProblem } from '../errors.js';

export interface PasswordRules {
  minLength: number;
  maxLength: number;
}

let common: ReadonlySet<string> | undefined;

/** zxcvbn-ts's ranked list of passwords seen most in breaches, loaded on first use. */
function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(dictionary['passwords-common']);
  return common;
}

export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(password.toLowerCase());
}

export function passwordProblems(password: string, rules: PasswordRules, field = 'password'): FieldProblem[] {
  let length = 0;
  for (const _ of password) {
    if (++length > rules.maxLength) return [{ field, problem: 'too_long' }];
  }
  if (length < rules.minLength) return [{ field, problem: 'too_short' }];
  if (isCommonPassword(password)) return [{ field, problem: 'too_common' }];
  return [];
}
