import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** What a certificate asserts; the signature covers exactly this, as canonical JSON. */
export interface CertificateClaims {
  readonly holder: string;
  readonly course: string;
  readonly completionDate: string;
  readonly number: string;
  readonly issuedAt: string;
}

export function buildClaims(row: {
  holderName: string;
  courseTitle: string;
  completionDate: Date;
  certificateNumber: string;
  issuedAt: Date;
}): CertificateClaims {
  return {
    holder: row.holderName,
    course: row.courseTitle,
    completionDate: row.completionDate.toISOString(),
    number: row.certificateNumber,
    issuedAt: row.issuedAt.toISOString(),
  };
}

/** RFC 8785 JSON: the same claims always give the same bytes, so anyone can re-hash and verify. */
export function canonicalClaims(claims: CertificateClaims): string {
  const text = canonicalize(claims);
  if (text === undefined) throw new Error('claims are not serialisable');
  return text;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
