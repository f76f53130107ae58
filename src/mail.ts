import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Config } from './config.ts';

export interface Mail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

export type SendMail = (mail: Mail) => Promise<void>;

/**
 * Sends over SMTP when SMTP_URL is set (unless LMS_MAIL_TRANSPORT=outbox); otherwise writes each
 * message as an .eml file to LMS_MAIL_OUTBOX, where development and tests read it.
 */
export function makeMailer(config: Config): SendMail {
  if (config.mailTransport === 'smtp' && config.smtpUrl !== undefined) {
    const transport = nodemailer.createTransport(config.smtpUrl);
    return async (mail) => {
      await transport.sendMail({ from: config.mailFrom, ...mail });
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return async (mail) => {
    const info = await transport.sendMail({ from: config.mailFrom, ...mail });
    await fs.mkdir(config.mailOutbox, { recursive: true });
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`;
    await fs.writeFile(path.join(config.mailOutbox, name), info.message as Buffer);
  };
}
