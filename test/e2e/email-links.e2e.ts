import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startTestApi, testConfig, type TestApi } from '../support/api.ts';
import { ARTIFACTS, launchBrowser, type TestBrowser } from '../support/browser.ts';
import { startWorker, type Worker } from '../../worker/runner.ts';
import {
  expectGraphqlError,
  expectOk,
  liftRateLimits,
  login,
  PASSWORD,
  register,
  signIn,
  uniqueEmail,
  waitForMail,
  type Mail,
} from '../api/identity/helpers.ts';

let db: TestDatabase;
let api: TestApi;
let runner: Worker;
let outbox: string;
let browser: TestBrowser;
const seen = new Set<string>();

beforeAll(async () => {
  db = await createTestDatabase();
  await liftRateLimits(db);
  outbox = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-outbox-'));
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
  runner = await startWorker(testConfig(db, { LMS_MAIL_OUTBOX: outbox, LMS_BCRYPT_COST: '4', LMS_PUBLIC_URL: api.url }), db.ownerUrl);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await runner?.stop();
  await api?.close();
  await db?.close();
  if (outbox) await fs.rm(outbox, { recursive: true, force: true });
});

/** The link as the .eml in the outbox has it. */
function linkIn(mail: Mail, route: string): string {
  const match = new RegExp(`(\\S+/${route}\\?token=\\S+)`).exec(mail.text);
  if (!match) throw new Error(`no ${route} link in:\n${mail.text}`);
  return match[1]!;
}

/** Console errors (a CSP violation is one), page errors, and what each form post sent as Referer. */
function watch(page: Page) {
  const problems: string[] = [];
  const posts: Array<Promise<{ url: string; referer: string | undefined; site: string | undefined }>> = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('request', (r) => {
    // allHeaders: what went on the wire, with the headers the network stack adds.
    if (r.method() === 'POST') posts.push(r.allHeaders().then((h) => ({ url: r.url(), referer: h.referer, site: h['sec-fetch-site'] })));
  });
  return { problems, posts };
}

it('the verification email link opens a page whose button confirms the address', async () => {
  const email = uniqueEmail('e2e-verify');
  expectOk(await register(api, email));
  const link = linkIn(await waitForMail(outbox, email, /confirm your email/i, seen), 'verify-email');

  const page = await browser.context.newPage();
  const seenBy = watch(page);
  expect((await page.goto(link))?.status()).toBe(200);
  await page.getByRole('button', { name: 'Confirm my email address' }).click();
  await page.waitForURL(`${api.url}/verify-email`);
  expect(await page.locator('#status').innerText()).toBe('Thank you: your email address is confirmed.');
  // The hashed style block applied under the CSP.
  expect(await page.locator('#status').evaluate((el) => (globalThis as any).getComputedStyle(el).fontWeight)).toBe('600');
  const { rows } = await db.root.query('select email_verified_at from lms_public.users where email = $1', [email]);
  expect(rows[0].email_verified_at).toBeInstanceOf(Date);

  // The post carried no Referer (the token is in the page's address), and the browser said same-origin.
  expect(await Promise.all(seenBy.posts)).toEqual([{ url: `${api.url}/verify-email`, referer: undefined, site: 'same-origin' }]);
  expect(seenBy.problems).toEqual([]);
  await page.close();
});

it('the password-reset email link opens a form that sets the new password', async () => {
  const email = uniqueEmail('e2e-reset');
  expectOk(await register(api, email));
  expectOk(await api.graphql('mutation($e: String!) { requestPasswordReset(input: {email: $e}) { success } }', { variables: { e: email } }));
  const link = linkIn(await waitForMail(outbox, email, /reset your password/i, seen), 'reset-password');

  const page = await browser.context.newPage();
  const seenBy = watch(page);
  expect((await page.goto(link))?.status()).toBe(200);
  await page.getByLabel('New password').fill('a brand new password');
  await page.getByLabel('The same password again').fill('a different password');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  expect(await page.locator('#status').innerText()).toMatch(/The two passwords differ/);

  await page.getByLabel('New password').fill('a brand new password');
  await page.getByLabel('The same password again').fill('a brand new password');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  expect(await page.locator('#status').innerText()).toMatch(/^Your password is changed/);
  await fs.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'reset-password.png'), fullPage: true });

  expectGraphqlError(await login(api, email, PASSWORD), 'CREDS');
  await signIn(api, email, 'a brand new password');
  expect((await Promise.all(seenBy.posts)).map((p) => p.referer)).toEqual([undefined, undefined]);
  // The mismatch answered 400, which Chromium reports on the console; nothing else may appear.
  expect(seenBy.problems.filter((p) => !/status of 400/.test(p))).toEqual([]);
  await page.close();
});
