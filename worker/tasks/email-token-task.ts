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
 * here and in the email: the job's payload carries the user's id, never a token.
 *
 * Once sent, the email is recorded under the job's id (lms_private.sent_emails), and the job
 * looks there first: a job that runs again because its completion was lost (the database went
 * away, the worker died) sends nothing, and the token in the first email stays the valid one.
 * Only a crash between handing the email over and recording it sends a second email; its newer
 * token supersedes the first, so the latest email always works.
 */
export function emailTokenTask(
  purpose: 'verify_email' | 'reset_password',
  send: SendMail,
  compose: (args: { token: string; fullName: string }) => { subject: string; text: string },
): Task {
  return async (payload, helpers) => {
    if (!isPayload(payload)) throw new Error('payload needs a userId');
    const { rows: sent } = await helpers.query<{ sent: boolean }>('select lms_private.email_already_sent($1) as sent', [helpers.job.id]);
    if (sent[0]?.sent) {
      helpers.logger.info(`job ${helpers.job.id} already sent its ${purpose} email to user ${payload.userId}; not sending it again`);
      return;
    }
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
    await helpers.query('select lms_private.record_sent_email($1, $2, $3, $4)', [helpers.job.id, payload.userId, purpose, minted.email]);
  };
}
