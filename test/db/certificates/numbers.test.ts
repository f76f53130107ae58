import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { certificateNumber, checkSymbol, CROCKFORD_DIGITS } from '../../support/certificate-check.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

it('numbers are random, unique, well-formed and carry a check character that catches typos', () =>
  db.asRoot(async (c) => {
    const { rows } = await c.query<{ n: string }>('select lms_private.new_certificate_number() as n from generate_series(1, 2000)');
    const numbers = rows.map((r) => r.n);
    expect(new Set(numbers).size).toBe(2000);
    for (const n of numbers) expect(n).toMatch(/^CB-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z*~$=U]$/);

    const sample = numbers.slice(0, 200);
    const { rows: checked } = await c.query<{ same: boolean; typed: string | null; swapped: string | null; off: string | null }>(
      `select lms_private.normalise_certificate_number(n) = n as same,
              lms_private.normalise_certificate_number(lower(replace(n, '-', ' '))) as typed,
              lms_private.normalise_certificate_number(
                left(n, 3) || substr(n, 5, 1) || substr(n, 4, 1) || substr(n, 6)) as swapped,
              lms_private.normalise_certificate_number(
                left(n, 3) || case when substr(n, 4, 1) = '7' then '8' else '7' end || substr(n, 5)) as off
       from unnest($1::text[]) as n`,
      [sample],
    );
    expect(checked.every((r) => r.same)).toBe(true);
    expect(checked.map((r) => r.typed)).toEqual(sample);
    // A changed character is always caught; a swap of two different neighbours too.
    expect(checked.filter((r) => r.off !== null)).toEqual([]);
    const swappable = sample.filter((n) => n[3] !== n[4]);
    expect(checked.filter((r, i) => sample[i]![3] !== sample[i]![4] && r.swapped !== null)).toEqual([]);
    expect(swappable.length).toBeGreaterThan(150);
  }));

it('Crockford reading: O is 0, I and L are 1', () =>
  db.asRoot(async (c) => {
    const { rows } = await c.query<{ n: string }>('select lms_private.new_certificate_number() as n');
    const n = rows[0]!.n;
    const disguised = n.slice(0, 3) + n.slice(3).replace(/0/g, 'O').replace(/1/g, 'l');
    const { rows: read } = await c.query('select lms_private.normalise_certificate_number($1) as n', [disguised]);
    expect(read[0].n).toBe(n);
  }));

describe('the check character is the exact value mod 37', () => {
  const randomBody = () => Array.from(randomBytes(12), (b) => CROCKFORD_DIGITS[b % 32]).join('');

  it('agrees with an independent BigInt implementation on 5,000 random bodies and on the extremes', () =>
    db.asRoot(async (c) => {
      const bodies = [...Array.from({ length: 5000 }, randomBody), '000000000000', 'ZZZZZZZZZZZZ', 'Z00000000000', '00000000000Z'];
      const { rows } = await c.query<{ body: string; check: string }>(
        'select body, lms_private.certificate_check_char(body) as check from unnest($1::text[]) as body',
        [bodies],
      );
      expect(rows.filter((r) => r.check !== checkSymbol(r.body))).toEqual([]);
      // A case that double precision got wrong: 32^11 is 36028797018963968, power() said ...64000.
      expect(checkSymbol('MKPT1GQ1CSEP')).toBe('R');
    }));

  it('new numbers carry it, and a number computed from the documented rule verifies', () =>
    db.asRoot(async (c) => {
      const { rows } = await c.query<{ n: string }>('select lms_private.new_certificate_number() as n from generate_series(1, 500)');
      expect(rows.filter((r) => certificateNumber(r.n.slice(3, 17).replaceAll('-', '')) !== r.n)).toEqual([]);
      const exact = certificateNumber('2Z3ZWB5E1TPH');
      expect(exact).toBe('CB-2Z3Z-WB5E-1TPH-H');
      const { rows: read } = await c.query('select lms_private.normalise_certificate_number($1) as n', [exact]);
      expect(read[0].n).toBe(exact);
    }));

  it('a number issued before the fix keeps verifying as printed, and only a recorded one', () =>
    db.asRoot(async (c) => {
      // What the old function gave this body; printed on a PDF, it must keep verifying.
      const printed = 'CB-MKPT-1GQ1-CSEP-~';
      const read = async (n: string) => (await c.query('select lms_private.normalise_certificate_number($1) as n', [n])).rows[0].n;
      expect(await read(printed)).toBeNull();
      await c.query('insert into lms_private.legacy_certificate_numbers (certificate_number) values ($1)', [printed]);
      expect(await read(printed.toLowerCase())).toBe(printed);
      expect(await read('CB-MKPT-1GQ1-CSEP-R')).toBe('CB-MKPT-1GQ1-CSEP-R');
      expect(await read('CB-MKPT-1GQ1-CSEP-$')).toBeNull();
    }));
});
