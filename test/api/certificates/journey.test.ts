import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { accessToken, startTestApi, testConfig, type TestApi } from '../../support/api.ts';
import { insertCourse, insertUser } from '../../support/fixtures.ts';
import { startWorker, type Worker } from '../../../worker/runner.ts';

let db: TestDatabase;
let api: TestApi;
let worker: Worker;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-cert-journey-'));
  const env = { LMS_DATA_DIR: dataDir, LMS_BCRYPT_COST: '4' };
  api = await startTestApi(db, { env });
  worker = await startWorker(testConfig(db, env), db.ownerUrl);
});
afterAll(async () => {
  await worker.stop();
  await api.close();
  await db.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

async function ok(query: string, variables: Record<string, unknown> = {}, token?: string) {
  const { status, body } = await api.graphql(query, { variables, token });
  expect({ status, errors: body.errors }).toEqual({ status: 200, errors: undefined });
  return body.data;
}

it('completing a course over HTTP yields a certificate that verifies, serves its PDF, and shows a revocation at once', async () => {
  const teacher = await insertUser(db.root, { role: 'instructor', fullName: 'Layla Haddad' });
  const student = await insertUser(db.root, { fullName: 'أمل منصور' });
  const admin = await insertUser(db.root, { role: 'admin' });
  const course = await insertCourse(db.root, teacher.id, { isPublished: true, title: 'Rules in SQL' });
  const { rows } = await db.root.query("insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'Only lesson', 'text') returning id", [
    course.id,
  ]);
  const s = accessToken(api.config, student);

  await ok('mutation($c: UUID!) { enroll(input: {courseId: $c}) { enrollment { rowId } } }', { c: course.id }, s);
  await ok('mutation($l: UUID!) { completeLesson(input: {lessonId: $l}) { lessonProgress { status } } }', { l: rows[0].id }, s);

  // The worker issues it within seconds.
  let certificate: { certificateNumber: string; rowId: string } | undefined;
  for (let i = 0; i < 100 && !certificate?.certificateNumber; i++) {
    const data = await ok('{ certificates { nodes { rowId certificateNumber signature } } }', {}, s);
    const node = data.certificates.nodes[0];
    if (node?.signature) certificate = node;
    else await new Promise((r) => setTimeout(r, 100));
  }
  expect(certificate?.certificateNumber).toMatch(/^CB-/);
  const number = certificate!.certificateNumber;

  const verified = await ok('query($n: String!) { verifyCertificate(number: $n) { status holderName courseTitle } }', { n: number });
  expect(verified.verifyCertificate).toEqual({ status: 'valid', holderName: 'أمل منصور', courseTitle: 'Rules in SQL' });

  const page = await fetch(`${api.url}/verify/${number}`);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('أمل منصور');
  expect(html).toMatch(/valid/i);

  const pdf = await fetch(`${api.url}/certificates/${number}.pdf`);
  expect(pdf.status).toBe(200);
  expect(pdf.headers.get('content-type')).toContain('application/pdf');
  expect(
    Buffer.from(await pdf.arrayBuffer())
      .subarray(0, 5)
      .toString(),
  ).toBe('%PDF-');

  await ok(
    'mutation($id: UUID!) { revokeCertificate(input: {certificateId: $id, reason: "Issued in error"}) { certificate { isRevoked } } }',
    { id: certificate!.rowId },
    accessToken(api.config, admin),
  );
  const revoked = await (await fetch(`${api.url}/verify/${number}`)).text();
  expect(revoked).toMatch(/revoked/i);
  expect(revoked).toContain('Issued in error');

  // A reissue (after a name change): a new number, signed again by the worker; the old one is replaced, and stays revoked.
  await db.root.query("update lms_public.users set full_name = 'Amal Mansour' where id = $1", [student.id]);
  const reissued = await ok(
    'mutation($id: UUID!) { reissueCertificate(input: {certificateId: $id}) { certificate { certificateNumber } } }',
    { id: certificate!.rowId },
    accessToken(api.config, admin),
  );
  const newNumber = reissued.reissueCertificate.certificate.certificateNumber;
  expect(newNumber).not.toBe(number);
  let status = '';
  for (let i = 0; i < 100 && status !== 'valid'; i++) {
    status = (await ok('query($n: String!) { verifyCertificate(number: $n) { status } }', { n: newNumber })).verifyCertificate.status;
    if (status !== 'valid') await new Promise((r) => setTimeout(r, 100));
  }
  expect(status).toBe('valid');
  const fresh = await ok('query($n: String!) { verifyCertificate(number: $n) { holderName } }', { n: newNumber });
  expect(fresh.verifyCertificate.holderName).toBe('Amal Mansour');
  // Revoked before the reissue, the old number stays revoked, and names its successor.
  const old = await ok('query($n: String!) { verifyCertificate(number: $n) { status revokedReason replacedBy holderName } }', { n: number });
  expect(old.verifyCertificate).toEqual({ status: 'revoked', revokedReason: 'Issued in error', replacedBy: newNumber, holderName: 'أمل منصور' });
  expect((await fetch(`${api.url}/certificates/${newNumber}.pdf`)).status).toBe(200);
});
