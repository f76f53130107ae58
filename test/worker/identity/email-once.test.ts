import pg from 'pg';
import type { JobHelpers } from 'graphile-worker';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';
import { testConfig } from '../../support/api.ts';
import type { Mail } from '../../../src/mail.ts';
import usersSendVerificationEmail from '../../../worker/tasks/users__send_verification_email.ts';
import usersSendPasswordResetEmail from '../../../worker/tasks/users__send_password_reset_email.ts';

/*
 * A job whose completion was lost (the database went away, the worker died) runs again:
 * an email job that already sent its email sends nothing the second time.
 */

let db: TestDatabase;
let owner: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  owner = new pg.Pool({ connectionString: db.ownerUrl, max: 2 });
});
afterAll(async () => {
  await owner.end();
  await db.close();
});

/** The helpers graphile-worker gives a task, as far as the email tasks use them: the job's id, its queries, a logger. */
function helpersFor(jobId: string): JobHelpers {
  return {
    job: { id: jobId },
    query: (text: string, values?: unknown[]) => owner.query(text, values),
    logger: { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} },
  } as unknown as JobHelpers;
}

it.each([
  ['users__send_verification_email', usersSendVerificationEmail, 'verify_email'],
  ['users__send_password_reset_email', usersSendPasswordResetEmail, 'reset_password'],
] as const)('%s run twice as the same job sends one email, and records it', async (_name, makeTask, purpose) => {
  const user = await insertUser(db.root);
  const sent: Mail[] = [];
  const task = makeTask(testConfig(db), (mail) => {
    sent.push(mail);
    return Promise.resolve();
  });
  const jobId = String(9_000_000 + Math.floor(Math.random() * 1_000_000));

  await task({ userId: user.id }, helpersFor(jobId));
  await task({ userId: user.id }, helpersFor(jobId));
  expect(sent.map((m) => m.to)).toEqual([user.email]);
  const { rows } = await db.root.query('select user_id, purpose, recipient from lms_private.sent_emails where job_id = $1', [jobId]);
  expect(rows).toEqual([{ user_id: user.id, purpose, recipient: user.email }]);

  // The token of that one email is still the valid one: the second run minted none.
  const { rows: tokens } = await db.root.query('select count(*)::int as n from lms_private.email_tokens where user_id = $1 and purpose = $2', [
    user.id,
    purpose,
  ]);
  expect(tokens[0].n).toBe(1);

  // Another job (the user asked again) is another email.
  await task({ userId: user.id }, helpersFor(String(Number(jobId) + 1)));
  expect(sent).toHaveLength(2);
});
