import { createHash, createPublicKey, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase, committedAs } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { insertCourse, insertUser } from '../../support/fixtures.ts';
import { signClaims, signingKey, verifyClaims } from '../../../src/certificates/keys.ts';
import { localStorage } from '../../../src/certificates/storage.ts';
import { verifyPath } from '../../../src/certificates/verify-url.ts';
import { certificateNumber, CROCKFORD_DIGITS } from '../../support/certificate-check.ts';

let db: TestDatabase;
let api: TestApi;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-verify-'));
  api = await startTestApi(db, { env: { LMS_DATA_DIR: dataDir } });
});
afterAll(async () => {
  await api?.close();
  await db?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

interface Issued {
  id: string;
  number: string;
  studentId: string;
  email: string;
  claimsSha256: string;
  pdfSha256: string;
  signature: string;
}

/** A signed certificate row for a completed enrollment, inserted as root (the worker is not under test). */
async function issue(fullName: string, title: string, chosenNumber?: string): Promise<Issued> {
  const instructor = await insertUser(db.root, { role: 'instructor' });
  const student = await insertUser(db.root, { fullName });
  const course = await insertCourse(db.root, instructor.id, { title, isPublished: true });
  const { rows: enrollment } = await db.root.query<{ id: string }>(
    `insert into lms_public.enrollments (student_id, course_id, status, started_at, completed_at, progress_percentage)
     values ($1, $2, 'completed', now() - interval '2 days', now() - interval '1 day', 100) returning id`,
    [student.id, course.id],
  );
  const { rows: numbered } = await db.root.query<{ n: string }>('select lms_private.new_certificate_number() as n');
  const number = chosenNumber ?? numbered[0]!.n;
  const claims = JSON.stringify({ course: title, holder: fullName, number });
  const claimsSha256 = createHash('sha256').update(claims).digest('hex');
  const signature = signClaims(signingKey(api.config), claims);
  const pdf = Buffer.from(`%PDF-1.7\n% test certificate ${number}\n%%EOF\n`);
  const pdfSha256 = createHash('sha256').update(pdf).digest('hex');
  const { rows } = await db.root.query<{ id: string }>(
    `insert into lms_public.certificates (enrollment_id, student_id, course_id, certificate_number, pdf_path, completion_date,
                                          claims_json, claims_sha256, signature, key_id, pdf_sha256)
     values ($1, $2, $3, $4, $5, now() - interval '1 day', $6, $7, $8, $9, $10) returning id`,
    [enrollment[0]!.id, student.id, course.id, number, `certificates/${number}.pdf`, claims, claimsSha256, signature, api.config.certKeyId, pdfSha256],
  );
  await localStorage(api.config).put(`certificates/${number}.pdf`, pdf);
  return { id: rows[0]!.id, number, studentId: student.id, email: student.email, claimsSha256, pdfSha256, signature };
}

/** The number with one character of its body changed: the check character must catch it. */
function mistyped(number: string): string {
  const i = 3;
  return number.slice(0, i) + (number[i] === '7' ? '8' : '7') + number.slice(i + 1);
}

async function page(number: string) {
  const res = await fetch(`${api.url}/verify/${encodeURIComponent(number)}`);
  return { res, html: await res.text() };
}

function expectStrictCsp(res: Response): void {
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; /);
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toMatch(/unsafe-inline|script-src/);
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
}

it('shows a valid certificate with its holder, course, fingerprints and PDF link, under a strict CSP', async () => {
  const cert = await issue('Ada Lovelace', 'Analytical Engines 101');
  const { res, html } = await page(cert.number);
  expect(res.status).toBe(200);
  expectStrictCsp(res);
  expect(html).toMatch(/<html lang="en">/);
  expect(html).toContain('id="status">Valid');
  expect(html).toContain('<dd dir="auto" id="holder">Ada Lovelace</dd>');
  expect(html).toContain('<dd dir="auto" id="course">Analytical Engines 101</dd>');
  for (const value of [cert.number, cert.claimsSha256, cert.pdfSha256, cert.signature, api.config.certKeyId]) expect(html).toContain(value);
  expect(html).toContain(`href="/certificates/${cert.number}.pdf"`);
  expect(html).not.toMatch(/<script|src="http/);
  // The only link element is the empty icon, which spares browsers a /favicon.ico request.
  expect(html.match(/<link[^>]*>/g)).toEqual(['<link rel="icon" href="data:,">']);

  // The style block's hash is the one the CSP allows.
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
  const hash = createHash('sha256').update(style).digest('base64');
  expect(res.headers.get('content-security-policy')).toContain(`'sha256-${hash}'`);

  // A number typed in lower case with spaces reads the same.
  const typed = await page(cert.number.toLowerCase().replace(/-/g, ' '));
  expect(typed.res.status).toBe(200);
  expect(typed.html).toContain('id="status">Valid');

  const pdf = await fetch(`${api.url}/certificates/${cert.number}.pdf`);
  expect(pdf.status).toBe(200);
  expect(pdf.headers.get('content-type')).toBe('application/pdf');
  const bytes = Buffer.from(await pdf.arrayBuffer());
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(cert.pdfSha256);
});

it('escapes a malicious holder name and course title', async () => {
  const cert = await issue(`<script>alert(1)</script> "O'Brien" & co`, `<img src=x onerror="alert(2)">`);
  const { res, html } = await page(cert.number);
  expect(res.status).toBe(200);
  expect(html).not.toContain('<script>');
  expect(html).not.toContain('<img');
  expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &quot;O&#39;Brien&quot; &amp; co');
  expect(html).toContain('&lt;img src=x onerror=&quot;alert(2)&quot;&gt;');
});

it('answers 404 with an HTML page for an unknown or mistyped number, and for a missing PDF', async () => {
  const cert = await issue('Grace Hopper', 'Compilers');
  const { rows } = await db.root.query<{ n: string }>('select lms_private.new_certificate_number() as n');
  for (const number of [rows[0]!.n, mistyped(cert.number), 'not-a-number', 'CB-' + 'X'.repeat(200)]) {
    const { res, html } = await page(number);
    expect(res.status).toBe(404);
    expectStrictCsp(res);
    expect(html).toContain('No certificate with this number');
  }
  expect((await fetch(`${api.url}/certificates/${mistyped(cert.number)}.pdf`)).status).toBe(404);
  expect((await fetch(`${api.url}/certificates/${cert.number}.txt`)).status).toBe(404);
  await fs.rm(path.join(dataDir, 'storage', 'certificates', `${cert.number}.pdf`));
  const missing = await fetch(`${api.url}/certificates/${cert.number}.pdf`);
  expect(missing.status).toBe(404);
  expect(((await missing.json()) as any).errors[0].extensions.code).toBe('NOT_FOUND');
});

it('shows a revoked certificate with its date and reason', async () => {
  const cert = await issue('Revoked Person', 'Ethics');
  await db.root.query("update lms_public.certificates set is_revoked = true, revoked_at = '2026-03-04T10:00:00Z', revoked_reason = $2 where id = $1", [
    cert.id,
    'Plagiarism <found> later',
  ]);
  const { res, html } = await page(cert.number);
  expect(res.status).toBe(200);
  expect(html).toContain('id="status">Revoked on 2026-03-04');
  expect(html).toContain('Plagiarism &lt;found&gt; later');
  expect(html).not.toContain('id="status">Valid');
});

it('shows a reissued number as replaced, linking to the new one', async () => {
  const cert = await issue('Renamed Person', 'History');
  const admin = await insertUser(db.root, { role: 'admin' });
  const { rows } = await committedAs(db.auth, { role: 'lms_admin', userId: admin.id }, (c) =>
    c.query<{ certificate_number: string }>('select certificate_number from lms_public.reissue_certificate($1)', [cert.id]),
  );
  const next = rows[0]!.certificate_number;
  expect(next).not.toBe(cert.number);

  const old = await page(cert.number);
  expect(old.res.status).toBe(200);
  expect(old.html).toContain(`Replaced by <a href="${verifyPath(next)}" id="replaced-by">${next}</a>`);
  expect(old.html).not.toContain('Revoked');
  expect(old.html).not.toContain('id="pdf"');
  // The new number exists and waits for the worker to sign it.
  const fresh = await page(next);
  expect(fresh.res.status).toBe(200);
  expect(fresh.html).toContain('id="status">Pending');
});

it('a revoked number, once reissued, still shows its revocation (date, reason) and names the new number', async () => {
  const cert = await issue('Misnamed Person', 'Logic');
  const admin = await insertUser(db.root, { role: 'admin' });
  const { rows } = await committedAs(db.auth, { role: 'lms_admin', userId: admin.id }, async (c) => {
    await c.query('select lms_public.revoke_certificate($1, $2)', [cert.id, 'Issued under a misspelt name']);
    return c.query<{ certificate_number: string }>('select certificate_number from lms_public.reissue_certificate($1)', [cert.id]);
  });
  const next = rows[0]!.certificate_number;
  const today = new Date().toISOString().slice(0, 10);
  const old = await page(cert.number);
  expect(old.res.status).toBe(200);
  expect(old.html).toContain(`id="status">Revoked on ${today}. Reason: <span dir="auto">Issued under a misspelt name</span>`);
  expect(old.html).toContain(`Replaced by <a href="${verifyPath(next)}" id="replaced-by">${next}</a>`);
  const { body } = await api.graphql('query ($n: String!) { verifyCertificate(number: $n) { status revokedAt revokedReason replacedBy } }', {
    variables: { n: cert.number },
  });
  expect(body.data.verifyCertificate).toEqual({
    status: 'revoked',
    revokedAt: expect.stringContaining(today),
    revokedReason: 'Issued under a misspelt name',
    replacedBy: next,
  });
});

it('links percent-encode the check symbols * ~ $ = (U is a plain letter), and the encoded links resolve', async () => {
  for (const symbol of ['*', '~', '$', '=', 'U']) {
    let number: string;
    do {
      number = certificateNumber(Array.from({ length: 12 }, () => CROCKFORD_DIGITS[Math.floor(Math.random() * 32)]).join(''));
    } while (!number.endsWith(symbol));
    const cert = await issue('Symbol Person', `Check ${symbol}`, number);
    const link = verifyPath(cert.number);
    const encoded = symbol === 'U' ? 'U' : `%${symbol.charCodeAt(0).toString(16).toUpperCase()}`;
    expect(link).toBe(`/verify/${cert.number.slice(0, -1)}${encoded}`);
    const res = await fetch(`${api.url}${link}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`<code>${cert.number}</code>`);
  }
});

it('publishes the signing key as an Ed25519 JWK that verifies the signatures', async () => {
  const res = await fetch(`${api.url}/.well-known/coursebase-certificate-keys.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
  const body = (await res.json()) as { keys: Array<Record<string, string>> };
  expect(body.keys).toHaveLength(1);
  const jwk = body.keys[0]!;
  expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: api.config.certKeyId, alg: 'EdDSA', use: 'sig' });
  expect(jwk.d).toBeUndefined();
  const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
  const claims = `{"n":"${randomUUID()}"}`;
  expect(verifyClaims(publicKey, claims, signClaims(signingKey(api.config), claims))).toBe(true);
});

it('GraphQL verifyCertificate answers anonymous clients with the same status and nothing private', async () => {
  const cert = await issue('Public Person', 'Open Data');
  const query = `query ($n: String!) { verifyCertificate(number: $n) {
    certificateNumber status holderName courseTitle completionDate issuedAt revokedAt revokedReason replacedBy
    claimsJson claimsSha256 signature keyId pdfSha256 pdfUrlPath } }`;
  const { status, body } = await api.graphql(query, { variables: { n: cert.number } });
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  const v = body.data.verifyCertificate;
  expect(v).toMatchObject({ certificateNumber: cert.number, status: 'valid', holderName: 'Public Person', courseTitle: 'Open Data' });
  const text = JSON.stringify(body);
  expect(text).not.toContain(cert.email);
  expect(text).not.toContain(cert.studentId);
  expect(text).not.toContain(cert.id);

  const unknown = await api.graphql(query, { variables: { n: mistyped(cert.number) } });
  expect(unknown.body.data.verifyCertificate).toBeNull();
});
