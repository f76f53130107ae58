import type { Task } from 'graphile-worker';
import type { Config } from '../../src/config.ts';
import { buildClaims, canonicalClaims, sha256Hex } from '../../src/certificates/claims.ts';
import { signClaims, signingKey } from '../../src/certificates/keys.ts';
import { renderCertificatePdf } from '../../src/certificates/pdf.ts';
import { localStorage, type Storage } from '../../src/certificates/storage.ts';
import { verifyPath } from '../../src/certificates/verify-url.ts';

interface CertificateToRender {
  certificate_id: string | null;
  certificate_number: string;
  pdf_path: string;
  holder_name: string;
  course_title: string;
  instructor_name: string;
  completion_date: Date;
  issued_at: Date;
  completed: boolean;
}

/**
 * Queued when an enrollment becomes completed (and by a reissue): renders, stores and signs its
 * certificate. Every step can be repeated: prepare_certificate returns the same row on a retry,
 * the PDF is deterministic (same bytes, same hash), and complete_certificate rewrites the same
 * values; so a crash anywhere ends, after the retry, with one row and its file.
 */
export default function certificatesIssue(config: Config, storage: Storage = localStorage(config)): Task {
  const key = signingKey(config);
  return async (payload, helpers) => {
    const enrollmentId = (payload as { enrollmentId?: unknown } | null)?.enrollmentId;
    if (typeof enrollmentId !== 'string') throw new Error('payload needs an enrollmentId');
    // From the FROM clause, so the function runs once (a (f()).* select would run it per column).
    const { rows } = await helpers.query<CertificateToRender>('select * from lms_private.prepare_certificate($1)', [enrollmentId]);
    const row = rows[0];
    if (!row || row.certificate_id === null) {
      helpers.logger.info(`enrollment ${enrollmentId} is not completed; no certificate`);
      return;
    }
    if (row.completed && (await storage.exists(row.pdf_path))) return;

    const pdf = await renderCertificatePdf({
      holderName: row.holder_name,
      courseTitle: row.course_title,
      instructorName: row.instructor_name,
      completionDate: row.completion_date,
      certificateNumber: row.certificate_number,
      verifyUrl: `${config.publicUrl}${verifyPath(row.certificate_number)}`,
      issuedAt: row.issued_at,
    });
    // The file first: a signed row always has its PDF (a crash after this only repeats the work).
    await storage.put(row.pdf_path, pdf);
    const claims = canonicalClaims(
      buildClaims({
        holderName: row.holder_name,
        courseTitle: row.course_title,
        completionDate: row.completion_date,
        certificateNumber: row.certificate_number,
        issuedAt: row.issued_at,
      }),
    );
    await helpers.query('select lms_private.complete_certificate($1, $2, $3, $4, $5, $6)', [
      row.certificate_id,
      claims,
      sha256Hex(claims),
      signClaims(key, claims),
      key.keyId,
      sha256Hex(pdf),
    ]);
    helpers.logger.info(`certificate ${row.certificate_number} issued for enrollment ${enrollmentId}`);
  };
}
