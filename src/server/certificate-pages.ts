import express, { type Request } from 'express';
import type pg from 'pg';
import type { Config } from '../config.ts';
import { publicJwk, signingKey } from '../certificates/keys.ts';
import { localStorage } from '../certificates/storage.ts';
import { sendError } from '../errors.ts';
import { withTransaction } from '../db/transaction.ts';
import { verifyPath } from '../certificates/verify-url.ts';
import { escapeHtml, htmlPage, sendHtml, strictCsp } from './html-page.ts';

/** A row of lms_public.verify_certificate(number). */
interface Verification {
  certificate_number: string;
  status: 'valid' | 'revoked' | 'replaced' | 'pending';
  holder_name: string | null;
  course_title: string | null;
  completion_date: Date | null;
  issued_at: Date | null;
  revoked_at: Date | null;
  revoked_reason: string | null;
  replaced_by: string | null;
  claims_json: string | null;
  claims_sha256: string | null;
  signature: string | null;
  key_id: string | null;
  pdf_sha256: string | null;
  pdf_url_path: string | null;
}

const CERTIFICATE_PAGE_CSP = strictCsp("'none'");

function day(date: Date | null): string {
  return date ? date.toISOString().slice(0, 10) : '—';
}
function moment(date: Date | null): string {
  return date ? `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—';
}

function replacedBy(next: string): string {
  return `Replaced by <a href="${verifyPath(next)}" id="replaced-by">${escapeHtml(next)}</a>: this number was reissued and is no longer current.`;
}

function statusLine(v: Verification): string {
  switch (v.status) {
    case 'valid':
      return '<p class="status valid" id="status">Valid: this certificate was issued by Coursebase and has not been revoked.</p>';
    case 'revoked': {
      const revoked = `<p class="status revoked" id="status">Revoked on ${escapeHtml(day(v.revoked_at))}. Reason: <span dir="auto">${escapeHtml(v.revoked_reason ?? 'not given')}</span></p>`;
      // Revoked, then reissued: the revocation stands for this number, and the new one is named.
      return v.replaced_by ? `${revoked}\n<p class="status replaced">${replacedBy(v.replaced_by)}</p>` : revoked;
    }
    case 'replaced':
      return `<p class="status replaced" id="status">${replacedBy(v.replaced_by ?? '')}</p>`;
    default:
      return '<p class="status pending" id="status">Pending: this certificate is being issued; check again in a few minutes.</p>';
  }
}

function verificationPage(v: Verification): string {
  const field = (label: string, value: string, attrs = '') => `<dt>${escapeHtml(label)}</dt><dd${attrs}>${value}</dd>`;
  const code = (value: string | null) => (value ? `<code>${escapeHtml(value)}</code>` : '—');
  const pdf = v.pdf_url_path ? `<p><a href="${escapeHtml(v.pdf_url_path)}" id="pdf">Download the certificate (PDF)</a></p>` : '';
  return htmlPage(
    `Certificate ${v.certificate_number}`,
    `<h1>Certificate verification</h1>
${statusLine(v)}
<dl>
${field('Holder', escapeHtml(v.holder_name), ' dir="auto" id="holder"')}
${field('Course', escapeHtml(v.course_title), ' dir="auto" id="course"')}
${field('Completed on', escapeHtml(day(v.completion_date)))}
${field('Issued at', escapeHtml(moment(v.issued_at)))}
${field('Certificate number', code(v.certificate_number), ' id="number"')}
${field('Claims SHA-256', code(v.claims_sha256))}
${field('PDF SHA-256', code(v.pdf_sha256))}
${field('Signature (Ed25519)', code(v.signature))}
${field('Key id', code(v.key_id))}
</dl>
${pdf}
<p>The signing keys are published at <a href="/.well-known/coursebase-certificate-keys.json">/.well-known/coursebase-certificate-keys.json</a>.</p>`,
  );
}

const NOT_FOUND_PAGE = htmlPage(
  'Certificate not found',
  `<h1>Certificate not found</h1>
<p class="status revoked" id="status">No certificate with this number exists. Check the number for typos: it looks like CB-XXXX-XXXX-XXXX-X.</p>`,
);

const MALFORMED_PAGE = htmlPage(
  'Not a certificate number',
  `<h1>Not a certificate number</h1>
<p class="status revoked" id="status">A certificate number looks like CB-XXXX-XXXX-XXXX-X: letters, digits and dashes, ending in a check character.</p>`,
);

/** What a typed certificate number may contain; anything else (a NUL, a slash) is refused before any query. */
const NUMBER_SHAPE = /^[0-9A-Za-z*~$= -]{1,256}$/;

/** The public, unauthenticated certificate routes: the verify page, the PDF and the published keys. */
export function certificatePages(config: Config, pool: pg.Pool): express.Router {
  const router = express.Router();
  const storage = localStorage(config);
  const keys = { keys: [publicJwk(signingKey(config))] };

  async function lookup(number: string): Promise<Verification | undefined> {
    // The authenticator has no usage on lms_public; the lookup runs as the anonymous visitor it is.
    const row = await withTransaction(pool, { role: 'lms_anonymous', readOnly: true }, async (client) => {
      const { rows } = await client.query<Verification>('select * from lms_public.verify_certificate($1)', [number]);
      return rows[0];
    });
    // A composite-returning function gives one all-null row for "no such certificate".
    return row?.certificate_number ? row : undefined;
  }

  router.get('/verify/:number', async (req: Request<{ number: string }>, res) => {
    if (!NUMBER_SHAPE.test(req.params.number)) return sendHtml(res, 400, MALFORMED_PAGE, CERTIFICATE_PAGE_CSP);
    const found = await lookup(req.params.number);
    if (!found) return sendHtml(res, 404, NOT_FOUND_PAGE, CERTIFICATE_PAGE_CSP);
    sendHtml(res, 200, verificationPage(found), CERTIFICATE_PAGE_CSP);
  });

  router.get('/certificates/:file', async (req: Request<{ file: string }>, res) => {
    const match = /^(.+)\.pdf$/i.exec(req.params.file);
    if (match && !NUMBER_SHAPE.test(match[1]!)) {
      return void sendError(res, 'INVALID_PATH', 'A certificate PDF is named CB-XXXX-XXXX-XXXX-X.pdf.');
    }
    const found = match ? await lookup(match[1]!) : undefined;
    // Only current numbers have a PDF path; a replaced number's PDF is not served.
    if (!found?.pdf_url_path) return void sendError(res, 'NOT_FOUND', 'No certificate with this number.');
    const bytes = await storage.get(`certificates/${found.certificate_number}.pdf`);
    if (!bytes) return void sendError(res, 'NOT_FOUND', 'The PDF of this certificate is not ready yet.');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Content-Disposition', `inline; filename="${found.certificate_number}.pdf"`);
    res.status(200).type('application/pdf').send(bytes);
  });

  router.get('/.well-known/coursebase-certificate-keys.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.json(keys);
  });

  return router;
}
