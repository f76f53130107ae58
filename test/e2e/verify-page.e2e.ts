import fs from 'node:fs/promises';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { insertCourse, insertUser } from '../support/fixtures.ts';
import { ARTIFACTS, launchBrowser, type TestBrowser } from '../support/browser.ts';

let db: TestDatabase;
let api: TestApi;
let browser: TestBrowser;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await api?.close();
  await db?.close();
});

it('shows an Arabic holder name right to left, with no console errors, then shows the revocation', async () => {
  const holder = 'ليلى عبد الله';
  const title = 'Introduction to Databases';
  const instructor = await insertUser(db.root, { role: 'instructor' });
  const student = await insertUser(db.root, { fullName: holder });
  const course = await insertCourse(db.root, instructor.id, { title, isPublished: true });
  const { rows: enrollment } = await db.root.query<{ id: string }>(
    `insert into lms_public.enrollments (student_id, course_id, status, completed_at, progress_percentage)
     values ($1, $2, 'completed', now(), 100) returning id`,
    [student.id, course.id],
  );
  const { rows: numbered } = await db.root.query<{ n: string }>('select lms_private.new_certificate_number() as n');
  const number = numbered[0]!.n;
  await db.root.query(
    `insert into lms_public.certificates (enrollment_id, student_id, course_id, certificate_number, pdf_path, completion_date,
                                          claims_json, claims_sha256, signature, key_id, pdf_sha256)
     values ($1, $2, $3, $4, $5, now(), '{}', repeat('a', 64), 'c2lnbmF0dXJl', $6, repeat('b', 64))`,
    [enrollment[0]!.id, student.id, course.id, number, `certificates/${number}.pdf`, api.config.certKeyId],
  );

  const page = await browser.context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));

  const response = await page.goto(`${api.url}/verify/${number}`);
  expect(response?.status()).toBe(200);
  expect(await page.locator('#status').innerText()).toMatch(/^Valid/);
  expect(await page.locator('#holder').innerText()).toBe(holder);
  expect(await page.locator('#course').innerText()).toBe(title);
  // These callbacks run in the page (the test's lib has no DOM types, hence globalThis).
  // dir="auto" resolves to right to left for an Arabic name; the page itself stays left to right.
  expect(await page.locator('#holder').evaluate((el) => (globalThis as any).getComputedStyle(el).direction)).toBe('rtl');
  expect(await page.locator('#course').evaluate((el) => (globalThis as any).getComputedStyle(el).direction)).toBe('ltr');
  // The hashed style block applied: a CSP violation would leave the status unstyled.
  expect(await page.locator('#status').evaluate((el) => (globalThis as any).getComputedStyle(el).fontWeight)).toBe('600');

  await fs.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'verify-page.png'), fullPage: true });

  await db.root.query(
    "update lms_public.certificates set is_revoked = true, revoked_at = now(), revoked_reason = 'Issued in error' where certificate_number = $1",
    [number],
  );
  await page.reload();
  expect(await page.locator('#status').innerText()).toMatch(/^Revoked on \d{4}-\d{2}-\d{2}\. Reason: Issued in error/);
  expect(await page.locator('#holder').innerText()).toBe(holder);

  expect(problems).toEqual([]);
  await page.close();
});
