import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPublicKey } from 'node:crypto';
import pg from 'pg';
import type { JobHelpers } from 'graphile-worker';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { insertCourse, insertUser } from '../../support/fixtures.ts';
import { testConfig } from '../../support/api.ts';
import { eventually } from '../../support/eventually.ts';
import { startWorker, type Worker } from '../../../worker/runner.ts';
import certificatesIssue from '../../../worker/tasks/certificates__issue.ts';
import { canonicalClaims, sha256Hex, type CertificateClaims } from '../../../src/certificates/claims.ts';
import { publicJwk, signingKey, verifyClaims } from '../../../src/certificates/keys.ts';
import { verifyPath } from '../../../src/certificates/verify-url.ts';
import { formatCertificateDate, renderCertificatePdf } from '../../../src/certificates/pdf.ts';
import type { Config } from '../../../src/config.ts';
import { projectRoot } from '../../../src/paths.ts';

let db: TestDatabase;
let dataDir: string;
let config: Config;
let runner: Worker;
let owner: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coursebase-certificates-'));
  config = testConfig(db, { LMS_DATA_DIR: dataDir, LMS_PUBLIC_URL: 'https://learn.example.test' });
  owner = new pg.Pool({ connectionString: db.ownerUrl, max: 2 });
  runner = await startWorker(config, db.ownerUrl);
});
afterAll(async () => {
  await runner.stop();
  await owner.end();
  await db.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Committed, as root: an instructor, a student, a published course of `lessons` text lessons, an enrollment. */
async function setup(lessons: number, names: { holder?: string; instructor?: string; course?: string } = {}) {
  const teacher = await insertUser(db.root, { role: 'instructor', fullName: names.instructor ?? 'Omar Haddad' });
  const student = await insertUser(db.root, { fullName: names.holder ?? 'Amal Mansour' });
  const course = await insertCourse(db.root, teacher.id, { isPublished: true, title: names.course ?? 'Rules in SQL' });
  const { rows: lessonRows } = await db.root.query<{ id: string }>(
    "insert into lms_public.lessons (course_id, title, lesson_type) select $1, 'L' || i, 'text' from generate_series(1, $2) i returning id",
    [course.id, lessons],
  );
  const { rows } = await db.root.query<{ id: string }>('insert into lms_public.enrollments (student_id, course_id) values ($1, $2) returning id', [
    student.id,
    course.id,
  ]);
  return { course, lessonIds: lessonRows.map((r) => r.id), enrollmentId: rows[0]!.id };
}

const progressSql =
  "insert into lms_public.lesson_progress (enrollment_id, lesson_id, status, started_at, completed_at) values ($1, $2, 'completed', now(), now())";

async function completeLesson(enrollmentId: string, lessonId: string): Promise<void> {
  await db.root.query(progressSql, [enrollmentId, lessonId]);
}

const certificates = async (enrollmentId: string) =>
  (await db.root.query('select * from lms_public.certificates where enrollment_id = $1', [enrollmentId])).rows;

const pendingJobs = async (enrollmentId: string) =>
  (await db.root.query('select 1 from graphile_worker.jobs where key = $1', [`certificates__issue:${enrollmentId}`])).rowCount ?? 0;

/** Waits until the enrollment's job has run and its certificate is signed. */
async function issued(enrollmentId: string) {
  await eventually(async () => ((await pendingJobs(enrollmentId)) === 0 ? true : undefined), 'the certificate job to run', 15_000);
  return eventually(
    async () => {
      const rows = await certificates(enrollmentId);
      return rows.length > 0 && rows[0].signature !== null ? rows : undefined;
    },
    'a signed certificate',
    15_000,
  );
}

const pdfFile = (pdfPath: string) => path.join(dataDir, 'storage', pdfPath);

// unpdf (PDF.js) loads its engine by a dynamic ESM import, which jest's CommonJS runtime cannot
// do; a plain Node child process can, and needs nothing beyond node_modules.
const EXTRACT = `
import { readFileSync } from 'node:fs';
import { extractText } from 'unpdf';
const { text } = await extractText(new Uint8Array(readFileSync(process.argv[1])), { mergePages: true });
process.stdout.write(JSON.stringify(text));
`;
let extracted = 0;
async function pdfText(bytes: Buffer): Promise<string> {
  const file = path.join(dataDir, `extract-${++extracted}.pdf`);
  fs.writeFileSync(file, bytes);
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', EXTRACT, file], { cwd: projectRoot });
  return JSON.parse(stdout) as string;
}

it('issues one signed certificate with its PDF when the enrollment completes (Arabic holder name)', async () => {
  const s = await setup(1, { holder: 'أمل منصور', instructor: 'Omar Haddad', course: 'Rules in SQL' });
  await completeLesson(s.enrollmentId, s.lessonIds[0]!);
  const rows = await issued(s.enrollmentId);
  expect(rows).toHaveLength(1);
  const cert = rows[0];
  expect(cert.pdf_path).toBe(`certificates/${cert.certificate_number}.pdf`);

  const pdf = fs.readFileSync(pdfFile(cert.pdf_path));
  expect(sha256Hex(pdf)).toBe(cert.pdf_sha256);
  const text = await pdfText(pdf);
  const verifyUrl = `https://learn.example.test${verifyPath(cert.certificate_number)}`;
  for (const expected of ['أمل منصور', 'Rules in SQL', 'Omar Haddad', cert.certificate_number, verifyUrl, formatCertificateDate(cert.completion_date)]) {
    expect(text).toContain(expected);
  }

  const claims = JSON.parse(cert.claims_json) as CertificateClaims;
  expect(claims).toEqual({
    holder: 'أمل منصور',
    course: 'Rules in SQL',
    completionDate: cert.completion_date.toISOString(),
    number: cert.certificate_number,
    issuedAt: cert.issued_at.toISOString(),
  });
  expect(cert.claims_json).toBe(canonicalClaims(claims));
  expect(cert.claims_sha256).toBe(sha256Hex(cert.claims_json));
  expect(cert.key_id).toBe(config.certKeyId);

  // Only the published JWK: no private material needed to verify.
  const jwk = JSON.parse(JSON.stringify(publicJwk(signingKey(config))));
  expect(jwk.d).toBeUndefined();
  const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
  expect(verifyClaims(publicKey, cert.claims_json, cert.signature)).toBe(true);
  const altered = canonicalClaims({ ...claims, holder: 'Someone Else' });
  expect(verifyClaims(publicKey, altered, cert.signature)).toBe(false);

  const { rows: enrollment } = await db.root.query('select status, certificate_issued_at from lms_public.enrollments where id = $1', [s.enrollmentId]);
  expect(enrollment[0].status).toBe('completed');
  expect(enrollment[0].certificate_issued_at).toEqual(cert.issued_at);
});

it('issues nothing at 99%, then once; a second run or a second completion adds no row', async () => {
  const s = await setup(2);
  await completeLesson(s.enrollmentId, s.lessonIds[0]!);
  expect(await pendingJobs(s.enrollmentId)).toBe(0);
  // Give the worker a chance to do something wrong.
  await new Promise((r) => setTimeout(r, 500));
  expect(await certificates(s.enrollmentId)).toEqual([]);

  await completeLesson(s.enrollmentId, s.lessonIds[1]!);
  const [first] = await issued(s.enrollmentId);
  const stat = fs.statSync(pdfFile(first.pdf_path));

  // The job again, by hand.
  await db.root.query("select lms_private.add_job('certificates__issue', jsonb_build_object('enrollmentId', $1::uuid))", [s.enrollmentId]);
  await eventually(
    async () => ((await db.root.query("select 1 from graphile_worker.jobs where task_identifier = 'certificates__issue'")).rowCount === 0 ? true : undefined),
    'no certificates__issue job left',
    15_000,
  );
  // The course grows and the student completes it again: the trigger queues another job.
  const { rows } = await db.root.query<{ id: string }>(
    "insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'More', 'text') returning id",
    [s.course.id],
  );
  await completeLesson(s.enrollmentId, rows[0]!.id);
  await eventually(
    async () => ((await db.root.query("select 1 from graphile_worker.jobs where task_identifier = 'certificates__issue'")).rowCount === 0 ? true : undefined),
    'no certificates__issue job left',
    15_000,
  );

  const after = await certificates(s.enrollmentId);
  expect(after).toHaveLength(1);
  expect(after[0]).toMatchObject({
    id: first.id,
    certificate_number: first.certificate_number,
    signature: first.signature,
    pdf_sha256: first.pdf_sha256,
  });
  // Nothing re-rendered: the completed row with its file is left alone.
  expect(fs.statSync(pdfFile(first.pdf_path)).mtimeMs).toBe(stat.mtimeMs);
});

it('recovers from a crash between the row and the file: one row, one file, the same hash', async () => {
  const s = await setup(1, { holder: 'Amal Mansour' });
  const client = await db.root.connect();
  try {
    // Complete the enrollment but take its job away, so only this test runs the task.
    await client.query('begin');
    await client.query(progressSql, [s.enrollmentId, s.lessonIds[0]!]);
    await client.query('select graphile_worker.remove_job($1)', [`certificates__issue:${s.enrollmentId}`]);
    await client.query('commit');
  } finally {
    client.release();
  }
  // The "crashed" run: the row exists, nothing else.
  const { rows: prepared } = await owner.query('select * from lms_private.prepare_certificate($1)', [s.enrollmentId]);
  expect(prepared[0]).toMatchObject({ completed: false });
  expect(fs.existsSync(pdfFile(prepared[0].pdf_path))).toBe(false);

  const task = certificatesIssue(config);
  const noop = () => {};
  const helpers = {
    query: (sql: string, params?: unknown[]) => owner.query(sql, params),
    logger: { info: noop, warn: noop, error: noop, debug: noop },
  } as unknown as JobHelpers;
  const payload = { enrollmentId: s.enrollmentId };

  await task(payload, helpers);
  const [once] = await certificates(s.enrollmentId);
  expect(once.certificate_number).toBe(prepared[0].certificate_number);
  expect(once.signature).not.toBeNull();
  await task(payload, helpers);
  const again = await certificates(s.enrollmentId);
  expect(again).toHaveLength(1);
  expect(again[0].pdf_sha256).toBe(once.pdf_sha256);

  // The file lost after the row was signed: the retry writes the same bytes back.
  fs.rmSync(pdfFile(once.pdf_path));
  await task(payload, helpers);
  const third = await certificates(s.enrollmentId);
  expect(third).toHaveLength(1);
  expect(third[0]).toMatchObject({ pdf_sha256: once.pdf_sha256, signature: once.signature });
  expect(sha256Hex(fs.readFileSync(pdfFile(once.pdf_path)))).toBe(once.pdf_sha256);
  const files = fs.readdirSync(path.join(dataDir, 'storage', 'certificates')).filter((f) => f.startsWith(once.certificate_number));
  expect(files).toEqual([`${once.certificate_number}.pdf`]);
});

it('renders the same bytes twice', async () => {
  const input = {
    holderName: 'أمل منصور',
    courseTitle: 'Rules in SQL',
    instructorName: 'عمر حداد',
    completionDate: new Date('2026-11-20T10:00:00Z'),
    certificateNumber: 'CB-0000-0000-0000-0',
    verifyUrl: 'https://learn.example.test/verify/CB-0000-0000-0000-0',
    issuedAt: new Date('2026-11-21T10:00:00Z'),
  };
  const a = await renderCertificatePdf(input);
  await new Promise((r) => setTimeout(r, 20));
  const b = await renderCertificatePdf(input);
  expect(a.equals(b)).toBe(true);
  const text = await pdfText(a);
  expect(text).toContain('عمر حداد');
});
