import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, testConfig, type TestApi } from '../../support/api.ts';
import { startWorker, type Worker } from '../../../worker/runner.ts';
import { setLogSink } from '../../../src/log.ts';
import { expectGraphqlError, expectOk, liftRateLimits, login, PASSWORD, register, signIn, uniqueEmail, waitForMail, type Mail } from './helpers.ts';

let db: TestDatabase;
let api: TestApi;
let runner: Worker;
let outbox: string;
const seen = new Set<string>();
/** Every line the API and the worker logged during this file, to prove no token is among them. */
const logged: string[] = [];
const tokensSeen: string[] = [];

beforeAll(async () => {
  setLogSink((line) => logged.push(line));
  db = await createTestDatabase();
  await liftRateLimits(db);
  outbox = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-outbox-'));
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
  // The emails link to this API, as LMS_PUBLIC_URL says.
  runner = await startWorker(testConfig(db, { LMS_MAIL_OUTBOX: outbox, LMS_BCRYPT_COST: '4', LMS_PUBLIC_URL: api.url }), db.ownerUrl);
});
afterAll(async () => {
  await runner?.stop();
  await api?.close();
  await db?.close();
  await fs.rm(outbox, { recursive: true, force: true });
});

function linkIn(mail: Mail, route: string): URL {
  const match = new RegExp(`(\\S+/${route}\\?token=\\S+)`).exec(mail.text);
  if (!match) throw new Error(`no ${route} link in:\n${mail.text}`);
  const link = new URL(match[1]!);
  tokensSeen.push(link.searchParams.get('token')!);
  return link;
}

/** Posts a form as the browser would from our own page, unless headers say otherwise. */
function post(route: string, fields: Record<string, string>, headers: Record<string, string> = { 'sec-fetch-site': 'same-origin' }) {
  return fetch(`${api.url}/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields),
    redirect: 'manual',
  });
}

function expectStrictPage(res: Response): void {
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; /);
  expect(csp).toContain("form-action 'self'");
  expect(csp).not.toMatch(/unsafe-inline|script-src/);
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
}

const verifiedAt = async (email: string) =>
  (await db.root.query('select email_verified_at from lms_public.users where email = $1', [email])).rows[0].email_verified_at;

describe('the verification link', () => {
  it('opens a page whose form confirms the address; opening it alone changes nothing; a second use is refused', async () => {
    const email = uniqueEmail('page-verify');
    expectOk(await register(api, email));
    const link = linkIn(await waitForMail(outbox, email, /confirm your email/i, seen), 'verify-email');
    expect(link.origin + link.pathname).toBe(`${api.url}/verify-email`);
    const token = link.searchParams.get('token')!;

    const opened = await fetch(link);
    expect(opened.status).toBe(200);
    expectStrictPage(opened);
    const html = await opened.text();
    expect(html).toContain('<form method="post" action="/verify-email">');
    expect(html).toContain(`<input type="hidden" name="token" value="${token}">`);
    expect(html).not.toMatch(/<script|src="http/);
    // A mail scanner that prefetches the link verifies nothing.
    expect(await verifiedAt(email)).toBeNull();

    const confirmed = await post('verify-email', { token });
    expect(confirmed.status).toBe(200);
    expectStrictPage(confirmed);
    expect(await confirmed.text()).toContain('your email address is confirmed');
    expect(await verifiedAt(email)).toBeInstanceOf(Date);

    const again = await post('verify-email', { token });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('invalid, already used or expired');
  });

  it('refuses a cross-site post (CSRF) without spending the token, and answers 4xx pages for bad input', async () => {
    const email = uniqueEmail('page-csrf');
    expectOk(await register(api, email));
    const token = linkIn(await waitForMail(outbox, email, /confirm your email/i, seen), 'verify-email').searchParams.get('token')!;

    const forgeries: Array<Record<string, string>> = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://evil.example' },
    ];
    for (const headers of forgeries) {
      const res = await post('verify-email', { token }, headers);
      expect(res.status).toBe(403);
      expectStrictPage(res);
    }
    expect(await verifiedAt(email)).toBeNull();

    expect((await fetch(`${api.url}/verify-email`)).status).toBe(400);
    expect((await fetch(`${api.url}/verify-email?token=${'x'.repeat(500)}`)).status).toBe(400);
    expect((await post('verify-email', {})).status).toBe(400);
    const forged = await post('verify-email', { token: 'not-a-real-token' });
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('invalid, already used or expired');
    // A browser on our own page without Sec-Fetch-Site (older ones) sends Origin: ours, or null under no-referrer.
    expect((await post('verify-email', { token }, { origin: api.url })).status).toBe(200);
  });
});

describe('the password-reset link', () => {
  const requestReset = (email: string) =>
    api.graphql('mutation($e: String!) { requestPasswordReset(input: {email: $e}) { success } }', { variables: { e: email } });

  it('opens a form that sets the new password once; a mismatch or a weak password keeps the token usable', async () => {
    const email = uniqueEmail('page-reset');
    expectOk(await register(api, email));
    expectOk(await requestReset(email));
    const link = linkIn(await waitForMail(outbox, email, /reset your password/i, seen), 'reset-password');
    expect(link.origin + link.pathname).toBe(`${api.url}/reset-password`);
    const token = link.searchParams.get('token')!;

    const opened = await fetch(link);
    expect(opened.status).toBe(200);
    expectStrictPage(opened);
    const form = await opened.text();
    expect(form).toContain('<form method="post" action="/reset-password">');
    expect(form).toContain('autocomplete="new-password"');

    const mismatch = await post('reset-password', { token, password: 'a brand new password', confirm: 'a brand new passwort' });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.text()).toContain(`name="token" value="${token}"`);
    const weak = await post('reset-password', { token, password: 'short', confirm: 'short' });
    expect(weak.status).toBe(400);
    expect(await weak.text()).toContain('too weak');
    await signIn(api, email, PASSWORD);

    const done = await post('reset-password', { token, password: 'a brand new password', confirm: 'a brand new password' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Your password is changed');
    expectGraphqlError(await login(api, email, PASSWORD), 'CREDS');
    await signIn(api, email, 'a brand new password');

    const reused = await post('reset-password', { token, password: 'yet another password', confirm: 'yet another password' });
    expect(reused.status).toBe(400);
  });
});

describe('LMS_APP_URL', () => {
  it("points the emails' links at the client app instead", async () => {
    const appOutbox = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-outbox-'));
    // This worker replaces the file's: afterAll stops it.
    await runner.stop();
    runner = await startWorker(
      testConfig(db, { LMS_MAIL_OUTBOX: appOutbox, LMS_BCRYPT_COST: '4', LMS_PUBLIC_URL: api.url, LMS_APP_URL: 'https://app.example.com/account/' }),
      db.ownerUrl,
    );
    try {
      const email = uniqueEmail('app-url');
      expectOk(await register(api, email));
      const link = linkIn(await waitForMail(appOutbox, email, /confirm your email/i, new Set()), 'verify-email');
      expect(link.origin + link.pathname).toBe('https://app.example.com/account/verify-email');
    } finally {
      await fs.rm(appOutbox, { recursive: true, force: true });
    }
  });
});

describe('what the pages leave behind', () => {
  it('a post beyond the verifyEmail rate limit gets a 429 page, before the token is looked at', async () => {
    // Hits so far this window are unknown (limits were lifted): make the very next one the last allowed.
    await db.root.query("update lms_private.rate_limits set max_hits = 1 where action = 'verifyEmail'");
    await db.root.query("delete from lms_private.rate_limit_hits where action = 'verifyEmail'");
    try {
      expect((await post('verify-email', { token: 'any-token' })).status).toBe(400);
      const res = await post('verify-email', { token: 'any-token' });
      expect(res.status).toBe(429);
      expectStrictPage(res);
    } finally {
      await db.root.query("update lms_private.rate_limits set max_hits = 100000 where action = 'verifyEmail'");
    }
  });

  it('no token ever reached a log line', () => {
    expect(tokensSeen.length).toBeGreaterThanOrEqual(4);
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.filter((line) => tokensSeen.some((token) => line.includes(token)))).toEqual([]);
  });
});
