import { createTestDatabase, type TestDatabase } from '../../support/db.ts';

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
