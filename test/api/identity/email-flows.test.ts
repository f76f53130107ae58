import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, testConfig, type TestApi } from '../../support/api.ts';
import { startWorker, type Worker } from '../../../worker/runner.ts';
import {
  PASSWORD,
  Q,
  errorCode,
  expectGraphqlError,
  expectOk,
  liftRateLimits,
  login,
  readOutbox,
  refresh,
  register,
  signIn,
  tokenInMail,
  uniqueEmail,
  waitForMail,
} from './helpers.ts';
import { eventually } from '../../support/eventually.ts';

let db: TestDatabase;
let api: TestApi;
let runner: Worker;
let outbox: string;
/** Outbox files already claimed by a test. */
const seen = new Set<string>();

beforeAll(async () => {
  db = await createTestDatabase();
  await liftRateLimits(db);
  outbox = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-outbox-'));
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
  runner = await startWorker(testConfig(db, { LMS_MAIL_OUTBOX: outbox, LMS_BCRYPT_COST: '4' }), db.ownerUrl);
});
afterAll(async () => {
  // stop() closes the worker's own pool before the database is dropped.
  await runner?.stop();
  await api?.close();
  await db?.close();
  await fs.rm(outbox, { recursive: true, force: true });
});

const VERIFY = /confirm your email/i;
const RESET = /reset your password/i;
const verifyEmail = (token: string) => api.graphql('mutation($t: String!) { verifyEmail(input: {token: $t}) { success } }', { variables: { t: token } });
const requestReset = (email: string) =>
  api.graphql('mutation($e: String!) { requestPasswordReset(input: {email: $e}) { success } }', { variables: { e: email } });
const resetPassword = (token: string, newPassword: string) =>
  api.graphql('mutation($t: String!, $p: String!) { resetPassword(input: {token: $t, newPassword: $p}) { success } }', {
    variables: { t: token, p: newPassword },
  });

async function emailJobs(): Promise<number> {
  const { rows } = await db.root.query(
    "select count(*)::int as n from graphile_worker.jobs where task_identifier in ('users__send_verification_email', 'users__send_password_reset_email')",
  );
  return rows[0].n;
}

/** Waits until the worker has no email job left to run, so that "nothing was sent" means something. */
async function queueDrained(): Promise<void> {
  await eventually(async () => ((await emailJobs()) === 0 ? true : undefined), 'the email jobs to drain');
}

describe('email verification', () => {
  it('register sends a verification email whose token verifies the address once', async () => {
    const email = uniqueEmail('verify');
    expectOk(await register(api, email));
    const mail = await waitForMail(outbox, email, VERIFY, seen);
    expect(mail.text).toContain('/verify-email?token=');
    const token = tokenInMail(mail);

    const session = await signIn(api, email);
    expect(expectOk(await api.graphql(Q.me, { token: session.accessToken })).currentUser.emailVerifiedAt).toBeNull();
    expect(expectOk(await verifyEmail(token))).toEqual({ verifyEmail: { success: true } });
    const verifiedAt = expectOk(await api.graphql(Q.me, { token: session.accessToken })).currentUser.emailVerifiedAt;
    expect(Math.abs(Date.parse(verifiedAt) - Date.now())).toBeLessThan(60_000);

    expectGraphqlError(await verifyEmail(token), 'TKEXP');
  });

  it('resendVerificationEmail sends a new token that supersedes the first', async () => {
    const email = uniqueEmail('resend');
    expectOk(await register(api, email));
    const first = tokenInMail(await waitForMail(outbox, email, VERIFY, seen));
    const session = await signIn(api, email);
    expect(expectOk(await api.graphql('mutation { resendVerificationEmail(input: {}) { success } }', { token: session.accessToken }))).toEqual({
      resendVerificationEmail: { success: true },
    });
    const second = tokenInMail(await waitForMail(outbox, email, VERIFY, seen));
    expect(second).not.toBe(first);
    expectGraphqlError(await verifyEmail(first), 'TKEXP');
    expectOk(await verifyEmail(second));
  });

  it('once verified, resendVerificationEmail answers success and sends nothing', async () => {
    const email = uniqueEmail('verified');
    expectOk(await register(api, email));
    expectOk(await verifyEmail(tokenInMail(await waitForMail(outbox, email, VERIFY, seen))));
    const session = await signIn(api, email);
    expectOk(await api.graphql('mutation { resendVerificationEmail(input: {}) { success } }', { token: session.accessToken }));
    await queueDrained();
    expect((await readOutbox(outbox)).filter((m) => m.to === email && !seen.has(m.file))).toEqual([]);
  });

  it('refuses an unknown token, and a reset token, with TKEXP', async () => {
    expectGraphqlError(await verifyEmail('not-a-real-token'), 'TKEXP');
    const email = uniqueEmail('purpose');
    expectOk(await register(api, email));
    await waitForMail(outbox, email, VERIFY, seen);
    expectOk(await requestReset(email));
    expectGraphqlError(await verifyEmail(tokenInMail(await waitForMail(outbox, email, RESET, seen))), 'TKEXP');
  });
});

describe('password reset', () => {
  it('answers an unknown email exactly like a known one, and mails only the known one', async () => {
    const known = uniqueEmail('known');
    const unknown = uniqueEmail('unknown');
    expectOk(await register(api, known));
    await waitForMail(outbox, known, VERIFY, seen);
    await queueDrained();

    const forUnknown = await requestReset(unknown);
    expect(await emailJobs()).toBe(0);
    const forKnown = await requestReset(known);
    expect(forUnknown).toEqual(forKnown);
    expect(forKnown).toEqual({ status: 200, body: { data: { requestPasswordReset: { success: true } } } });

    await waitForMail(outbox, known, RESET, seen);
    await queueDrained();
    expect((await readOutbox(outbox)).filter((m) => m.to === unknown)).toEqual([]);
  });

  it('the emailed token sets a new password once, and ends every session', async () => {
    const email = uniqueEmail('reset');
    expectOk(await register(api, email));
    const before = [await signIn(api, email), await signIn(api, email)];
    expectOk(await requestReset(email));
    const token = tokenInMail(await waitForMail(outbox, email, RESET, seen));
    expect(expectOk(await resetPassword(token, 'a brand new password'))).toEqual({ resetPassword: { success: true } });

    expectGraphqlError(await login(api, email, PASSWORD), 'CREDS');
    await signIn(api, email, 'a brand new password');
    for (const session of before) expectGraphqlError(await refresh(api, session.refreshToken), 'TKEXP');
    expectGraphqlError(await resetPassword(token, 'yet another password'), 'TKEXP');
    await signIn(api, email, 'a brand new password');
  });

  it('one reset token sent twice at once sets a password only once', async () => {
    const email = uniqueEmail('reset-race');
    expectOk(await register(api, email));
    expectOk(await requestReset(email));
    const token = tokenInMail(await waitForMail(outbox, email, RESET, seen));
    const results = await Promise.all([resetPassword(token, 'first new password'), resetPassword(token, 'second new password')]);
    expect(results.map(errorCode).sort()).toEqual(['TKEXP', undefined]);
    const [winner, loser] = results[0]!.body.errors ? ['second new password', 'first new password'] : ['first new password', 'second new password'];
    await signIn(api, email, winner);
    expectGraphqlError(await login(api, email, loser), 'CREDS');
  });

  it('a weak new password is WEAKP and does not spend the token', async () => {
    const email = uniqueEmail('reset-weak');
    expectOk(await register(api, email));
    expectOk(await requestReset(email));
    const token = tokenInMail(await waitForMail(outbox, email, RESET, seen));
    expectGraphqlError(await resetPassword(token, 'short'), 'WEAKP');
    await signIn(api, email);
    expectOk(await resetPassword(token, 'a strong replacement'));
    await signIn(api, email, 'a strong replacement');
  });

  it('a second request supersedes the first link', async () => {
    const email = uniqueEmail('reset-twice');
    expectOk(await register(api, email));
    expectOk(await requestReset(email));
    const first = tokenInMail(await waitForMail(outbox, email, RESET, seen));
    expectOk(await requestReset(email));
    const second = tokenInMail(await waitForMail(outbox, email, RESET, seen));
    expectGraphqlError(await resetPassword(first, 'a strong replacement'), 'TKEXP');
    expectOk(await resetPassword(second, 'a strong replacement'));
  });

  it('refuses an unknown token with TKEXP, and a verification token too', async () => {
    expectGraphqlError(await resetPassword('made-up-token', 'a strong replacement'), 'TKEXP');
    const email = uniqueEmail('reset-purpose');
    expectOk(await register(api, email));
    const verifyToken = tokenInMail(await waitForMail(outbox, email, VERIFY, seen));
    expectGraphqlError(await resetPassword(verifyToken, 'a strong replacement'), 'TKEXP');
    await signIn(api, email);
  });

  it('keeps email tokens out of the database and the job queue in clear', async () => {
    const email = uniqueEmail('reset-hash');
    expectOk(await register(api, email));
    const token = tokenInMail(await waitForMail(outbox, email, VERIFY, seen));
    const { rows } = await db.root.query(
      `select (select string_agg(t::text, ' ') from lms_private.email_tokens t) as tokens,
              (select string_agg(j::text, ' ') from graphile_worker.jobs j) as jobs`,
    );
    expect(`${rows[0].tokens} ${rows[0].jobs}`).not.toContain(token);
  });
});
