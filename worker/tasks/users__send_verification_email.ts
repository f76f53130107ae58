import type { Config } from '../../src/config.ts';
import type { SendMail } from '../../src/mail.ts';
import { emailTokenTask } from './email-token-task.ts';

export default function usersSendVerificationEmail(config: Config, send: SendMail) {
  return emailTokenTask('verify_email', send, ({ token, fullName }) => ({
    subject: 'Confirm your email address',
    text: [
      `Hello ${fullName},`,
      '',
      'Confirm your email address for Coursebase by opening this link within 24 hours:',
      `${config.appUrl}/verify-email?token=${encodeURIComponent(token)}`,
      '',
      `Or send this token to the verifyEmail mutation: ${token}`,
      '',
      'If you did not create an account, ignore this email.',
    ].join('\n'),
  }));
}
