/**
 * Sending mail: nodemailer over SMTP (SMTP_URL), or, in development without SMTP_URL, each
 * message written as an .eml file in DATA_DIR/mail with a log line that names it, so
 * `npm start` shows the whole flow with no mail server.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { MailConfig } from '../config.js';
import type { RenderedMail } from '../mail/templates.js';
import { PermanentFailure } from './worker.js';

export interface MailTransport {
  /**
   * Resolves once the server accepted the message; throws PermanentFailure if it never will.
   * `id` becomes the Message-ID (`<id@PUBLIC_URL's host>`): a receiver can drop the copy that a
   * retry after a crash may send.
   */
  send(mail: RenderedMail, id: string): Promise<void>;
  close(): void;
}

// Bounds on one delivery, well inside the outbox's claim lease.
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

export function createMailTransport(
  o: Pick<MailConfig, 'smtpUrl' | 'from' | 'dropDir'>,
  publicUrl: string,
  info: (message: string, context: Record<string, unknown>) => void,
): MailTransport {
  const domain = new URL(publicUrl).hostname;
  const messageId = (id: string) => `<${id}@${domain}>`;
  if (o.smtpUrl === undefined) {
    const writer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    return {
      async send(mail, id) {
        const written = await writer.sendMail({ ...mail, from: o.from, messageId: messageId(id) });
        mkdirSync(o.dropDir, { recursive: true });
        // Named by time, then the id: `ls` lists them in the order they were sent.
        const file = join(
          o.dropDir,
          `${new Date().toISOString().replace(/[:.]/g, '-')}-${id.replace(/[^\w.-]/g, '')}.eml`,
        );
        writeFileSync(file, written.message as Buffer, { mode: 0o600 });
        info('mail written to the development mail folder (set SMTP_URL to send it)', { file, to: mail.to });
      },
      close: () => writer.close(),
    };
  }
  const smtp = nodemailer.createTransport({ url: o.smtpUrl, ...SMTP_TIMEOUTS });
  return {
    async send(mail, id) {
      try {
        await smtp.sendMail({ ...mail, from: o.from, messageId: messageId(id) });
      } catch (error) {
        // A 5xx reply refuses this message for good (a bad address); 4xx, a refused login
        // (EAUTH: the operator can mend it) and connection errors are worth another try.
        const { responseCode, code } = error as { responseCode?: number; code?: string };
        if (typeof responseCode === 'number' && responseCode >= 500 && code !== 'EAUTH') {
          throw new PermanentFailure(`the mail server refused the message: ${(error as Error).message}`);
        }
        throw error;
      }
    },
    close: () => smtp.close(),
  };
}
