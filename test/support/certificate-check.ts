/**
 * An independent implementation of the documented certificate check character, in BigInt:
 * the 12 Crockford base32 digits read as one number, mod 37, indexes the 37 check symbols.
 */
export const CROCKFORD_DIGITS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const CHECK_SYMBOLS = `${CROCKFORD_DIGITS}*~$=U`;

export function checkSymbol(body: string): string {
  let value = 0n;
  for (const digit of body) {
    const d = CROCKFORD_DIGITS.indexOf(digit);
    if (d < 0) throw new Error(`not a Crockford digit: ${digit}`);
    value = value * 32n + BigInt(d);
  }
  return CHECK_SYMBOLS[Number(value % 37n)]!;
}

/** CB-XXXX-XXXX-XXXX-C for 12 body digits. */
export function certificateNumber(body: string): string {
  return `CB-${body.slice(0, 4)}-${body.slice(4, 8)}-${body.slice(8, 12)}-${checkSymbol(body)}`;
}
