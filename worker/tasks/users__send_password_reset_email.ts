import type { Config } from '../../src/config.ts';
import type { SendMail } from '../../src/mail.ts';
import { emailTokenTask } from './email-token-task.ts';

export default function usersSendPasswordResetEmail(config: Config, send: SendMail) {
  return emailTokenTask('reset_password', send, ({ token, fullName }) => ({
    subject: 'Reset your password',
    text: [
      `Hello ${fullName},`,
      '',
      'Someone asked to reset your Coursebase password. To choose a new one, open this link within an hour:',
      `${config.appUrl}/reset-password?token=${encodeURIComponent(token)}`,
      '',
      `Or send this token to the resetPassword mutation: ${token}`,
      '',
      'If it was not you, ignore this email: your password stays as it is.',
    ].join('\n'),
  }));
}
