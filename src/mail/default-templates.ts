/**
 * The built-in mail templates (Mustache). An operator replaces any part of any of them with a
 * file in MAIL_TEMPLATES_DIR named `<template>.subject.txt`, `<template>.txt` or `<template>.html`.
 * Values: `username`, `email`, `link`, `expires`, `new_email`, `product`. In the HTML part every
 * `{{value}}` is HTML-escaped; the subject and text parts are plain text.
 */
export interface MailTemplate {
  subject: string;
  text: string;
  html: string;
}

export const TEMPLATE_NAMES = [
  'verify-email',
  'reset-password',
  'password-reset-notice',
  'email-change',
  'email-change-notice',
  'test',
] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

const html = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; max-width: 36rem; margin: 2rem auto; padding: 0 1rem;">
${body}
<p style="color: #666; font-size: 0.9em;">{{product}}</p>
</body></html>
`;

const button =
  '<p><a href="{{link}}" style="display: inline-block; padding: 0.6em 1.2em; background: #1d4ed8; color: #fff; text-decoration: none; border-radius: 4px;">';

export const DEFAULT_TEMPLATES: Readonly<Record<TemplateName, MailTemplate>> = {
  'verify-email': {
    subject: 'Confirm your email address',
    text: `Hello {{username}},

Confirm that {{email}} is your address by opening this link:

{{link}}

The link works once and expires in {{expires}}. If you did not sign up, ignore this mail.
`,
    html: html(
      'Confirm your email address',
      `<p>Hello {{username}},</p>
<p>Confirm that {{email}} is your address:</p>
${button}Confirm my address</a></p>
<p>Or open this link: {{link}}</p>
<p>The link works once and expires in {{expires}}. If you did not sign up, ignore this mail.</p>`,
    ),
  },
  'reset-password': {
    subject: 'Reset your password',
    text: `Hello {{username}},

Someone asked to reset the password of your account. To choose a new one, open this link:

{{link}}

The link works once and expires in {{expires}}. If it was not you, ignore this mail: your password stays as it is.
`,
    html: html(
      'Reset your password',
      `<p>Hello {{username}},</p>
<p>Someone asked to reset the password of your account. To choose a new one:</p>
${button}Choose a new password</a></p>
<p>Or open this link: {{link}}</p>
<p>The link works once and expires in {{expires}}. If it was not you, ignore this mail: your password stays as it is.</p>`,
    ),
  },
  'password-reset-notice': {
    subject: 'Your password was changed',
    text: `Hello {{username}},

The password of your account was just reset with a link sent to this address, and every session was signed out.

If this was not you, reset your password again at once and tell us.
`,
    html: html(
      'Your password was changed',
      `<p>Hello {{username}},</p>
<p>The password of your account was just reset with a link sent to this address, and every session was signed out.</p>
<p>If this was not you, reset your password again at once and tell us.</p>`,
    ),
  },
  'email-change': {
    subject: 'Confirm your new email address',
    text: `Hello {{username}},

To make {{new_email}} the address of your account, open this link:

{{link}}

The link works once and expires in {{expires}}. If you did not ask for this, ignore this mail.
`,
    html: html(
      'Confirm your new email address',
      `<p>Hello {{username}},</p>
<p>To make {{new_email}} the address of your account:</p>
${button}Confirm the new address</a></p>
<p>Or open this link: {{link}}</p>
<p>The link works once and expires in {{expires}}. If you did not ask for this, ignore this mail.</p>`,
    ),
  },
  'email-change-notice': {
    subject: 'A change of your email address was requested',
    text: `Hello {{username}},

Someone signed in to your account asked to change its address from {{email}} to {{new_email}}. A link to confirm was sent to the new address; nothing changes until it is opened.

If this was not you, change your password at once.
`,
    html: html(
      'A change of your email address was requested',
      `<p>Hello {{username}},</p>
<p>Someone signed in to your account asked to change its address from {{email}} to {{new_email}}. A link to confirm was sent to the new address; nothing changes until it is opened.</p>
<p>If this was not you, change your password at once.</p>`,
    ),
  },
  test: {
    subject: 'Test mail from {{product}}',
    text: 'This is a test mail sent by `tessera mail test`. Mail works.\n',
    html: html('Test mail', '<p>This is a test mail sent by <code>tessera mail test</code>. Mail works.</p>'),
  },
};
