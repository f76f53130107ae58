import type { Task } from 'graphile-worker';
import type { SendMail } from '../../src/mail.ts';

interface Payload {
  userId: string;
}

function isPayload(payload: unknown): payload is Payload {
  return typeof payload === 'object' && payload !== null && typeof (payload as Payload).userId === 'string';
}

/**
 * A task that mints a single-use email token in SQL and mails it. The raw token exists only
 * here and in the email: the job's payload carries the user's id, never a token. A retry
 * mints a new token, which supersedes the old one.
 */
export function emailTokenTask(
  purpose: 'verify_email' | 'reset_password',
  send: SendMail,
  compose: (args: { token: string; fullName: string }) => { subject: string; text: string },
): Task {
  return async (payload, helpers) => {
    if (!isPayload(payload)) throw new Error('payload needs a userId');
    const { rows } = await helpers.query<{ token: string; email: string; full_name: string }>('select * from lms_private.issue_email_token($1, $2)', [
      payload.userId,
      purpose,
    ]);
    const minted = rows[0];
    if (!minted) {
      helpers.logger.info(`no ${purpose} email needed for user ${payload.userId}`);
      return;
    }
    await send({ to: minted.email, ...compose({ token: minted.token, fullName: minted.full_name }) });
  };
}
