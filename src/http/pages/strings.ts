/**
 * Every word the hosted pages show, in one table per language. An operator picks the language
 * with PAGES_LANGUAGE; a language without a table falls back to English (with a warning).
 * Messages from the core (AppError) are shown as they are: they are the API's messages too.
 */
import type { Problem } from '../../errors.js';

const en = {
  lang: 'en',
  product: 'Tessera',
  signIn: 'Sign in',
  signOut: 'Sign out',
  account: 'Your account',
  register: 'Create an account',
  forgotPassword: 'Forgot your password?',
  resetPassword: 'Choose a new password',
  verifyEmail: 'Confirm your email address',
  problem: 'Something went wrong',
  identifier: 'Username or email',
  username: 'Username',
  usernameHint: '3 to 32 letters, digits, dots, dashes or underscores.',
  email: 'Email address',
  password: 'Password',
  passwordHint: (min: number) => `At least ${min} characters, and not a common password.`,
  currentPassword: 'Current password',
  newPassword: 'New password',
  newEmail: 'New email address',
  continue: 'Continue',
  noAccount: 'No account yet?',
  haveAccount: 'Already have an account?',
  backToSignIn: 'Back to sign in',
  errorsTitle: 'Please correct this:',
  mfaTitle: 'Two-step verification',
  mfaPrompt: 'Enter the 6-digit code from your authenticator app.',
  mfaCode: 'Code',
  mfaRecoveryPrompt: 'Lost your device? Use one of your recovery codes instead.',
  recoveryCode: 'Recovery code',
  useRecoveryCode: 'Use recovery code',
  verify: 'Verify',
  forgotPrompt: 'Enter the address of your account and we will mail you a link to choose a new password.',
  sendLink: 'Send me a link',
  linkSent: 'If an account uses this address, a link is on its way. It works once and expires soon.',
  signedInAs: (name: string) => `Signed in as ${name}.`,
  goToAccount: 'Go to your account',
  profile: 'Profile',
  verified: 'confirmed',
  notVerified: 'not confirmed yet',
  resendVerification: 'Send the confirmation link again',
  memberSince: 'Member since',
  roles: 'Roles',
  changePassword: 'Change password',
  changePasswordNote: 'Every other session is signed out.',
  changeEmail: 'Change email address',
  changeEmailNote: 'We mail a link to the new address; the change happens when you open it.',
  sessions: 'Where you are signed in',
  sessionDevice: 'Device',
  sessionAddress: 'Address',
  sessionStarted: 'Signed in',
  sessionLastUsed: 'Last active',
  sessionLevel: 'Second factor',
  thisDevice: 'This device',
  end: 'End',
  endSessionLabel: (device: string) => `End the session on ${device}`,
  unknownDevice: 'Unknown device',
  yes: 'yes',
  no: 'no',
  mfa: 'Two-step verification',
  mfaOff: 'Add an authenticator app so that a password alone cannot sign in to your account.',
  mfaOn: (date: string) => `Authenticator app added on ${date}.`,
  recoveryLeft: (n: number) => `${n} recovery codes left.`,
  setUpMfa: 'Set up an authenticator app',
  removeMfa: 'Remove the authenticator app',
  newRecoveryCodes: 'Make new recovery codes',
  enrolTitle: 'Set up an authenticator app',
  enrolScan: 'Scan this code with your authenticator app, or type the key below into it.',
  enrolKey: 'Key',
  enrolConfirm: 'Then enter the 6-digit code it shows, to confirm.',
  confirm: 'Confirm',
  recoveryTitle: 'Your recovery codes',
  recoveryIntro:
    'Keep these somewhere safe. Each one signs you in once if you lose your device. They are shown only now.',
  done: 'Done',
  signOutPrompt: 'Sign out of this device?',
  reauth: 'For your security, sign in again to do this.',
  reauthMfa: 'For your security, sign in again with your second factor to do this.',
  notices: {
    registered: 'Your account is ready. We mailed you a link to confirm your address. Sign in below.',
    signed_out: 'You are signed out.',
    password_changed: 'Your password is changed. Every other session was signed out.',
    email_change_sent: 'We mailed a link to the new address. Open it to finish the change.',
    verification_sent: 'If your address still needs confirming, a new link is on its way.',
    session_ended: 'That session is signed out.',
    mfa_removed: 'The authenticator app is removed. Every other session of yours was signed out.',
    password_reset: 'Your password is changed, and every session was signed out. Sign in with the new password.',
  },
  verifyPrompt: 'Confirm this email address for your account.',
  verifyButton: 'Confirm my address',
  verifyDone: 'Your email address is confirmed.',
  verifyChanged: 'Your email address has been changed.',
  verifyRetry: 'Ask for a new link from your account page.',
  resetButton: 'Set my new password',
  problems: {
    required: 'Fill this in.',
    wrong_type: 'This is not the right kind of value.',
    too_short: 'This is too short.',
    too_long: 'This is too long.',
    invalid_format: 'This does not have the right form.',
    invalid_characters: 'This has characters that are not allowed.',
    too_common: 'This password is too common; choose one that is harder to guess.',
    taken: 'This is already in use.',
    out_of_range: 'This is out of range.',
    not_allowed: 'This is not allowed here.',
  } satisfies Record<Problem, string>,
  csrfProblem: 'This form was not sent from this site. Go back, reload the page and try again.',
};

export type PageStrings = typeof en;
export type NoticeKey = keyof PageStrings['notices'];

const TABLES: Readonly<Record<string, PageStrings>> = { en };

export const LANGUAGES = Object.keys(TABLES);

export function stringsFor(language: string): PageStrings | undefined {
  return TABLES[language];
}

export const ENGLISH: PageStrings = en;

export function isNotice(key: unknown): key is NoticeKey {
  return typeof key === 'string' && Object.hasOwn(en.notices, key);
}
