import type { TestUser, Transaction } from '../../support/db.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { enrollAs, publishedCourse, user } from '../../support/courses.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

async function rate(tx: Transaction, who: TestUser, enrollmentId: string, rating: number | null, review: string | null = null): Promise<void> {
  await tx.becomeUser(who);
  const { rowCount } = await tx.query('update lms_public.enrollments set rating = $2, review = $3 where id = $1', [enrollmentId, rating, review]);
  expect(rowCount).toBe(1);
}

/** What an anonymous visitor reads of the course's rating. */
async function publicRating(tx: Transaction, courseId: string) {
  await tx.becomeAnonymous();
  const { rows } = await tx.query('select average_rating, review_count from lms_public.courses where id = $1', [courseId]);
  return rows[0];
}

describe("a course's public rating", () => {
  it('follows ratings as they are set, changed and removed, and anonymous visitors read it', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const [a, b, d] = [await user(tx), await user(tx), await user(tx)];
      const ea = await enrollAs(tx, a, c.id);
      const eb = await enrollAs(tx, b, c.id);
      const ed = await enrollAs(tx, d, c.id);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: null, review_count: 0 });

      await rate(tx, a, ea.id, 4, 'solid');
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '4.00', review_count: 1 });
      await rate(tx, b, eb.id, 2);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '3.00', review_count: 2 });
      await rate(tx, a, ea.id, 5, 'even better');
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '3.50', review_count: 2 });
      await rate(tx, d, ed.id, 5);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '4.00', review_count: 3 });
      await rate(tx, b, eb.id, null);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '5.00', review_count: 2 });
      await rate(tx, d, ed.id, 4);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '4.50', review_count: 2 });
      await rate(tx, a, ea.id, null);
      await rate(tx, d, ed.id, null);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: null, review_count: 0 });
    }));

  it('rounds to two decimals, and follows an enrollment deleted by root', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const [a, b, d] = [await user(tx), await user(tx), await user(tx)];
      const ea = await enrollAs(tx, a, c.id);
      const eb = await enrollAs(tx, b, c.id);
      const ed = await enrollAs(tx, d, c.id);
      await rate(tx, a, ea.id, 4);
      await rate(tx, b, eb.id, 5);
      await rate(tx, d, ed.id, 5);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '4.67', review_count: 3 });
      await tx.becomeRoot();
      await tx.query('delete from lms_public.enrollments where id = $1', [ea.id]);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '5.00', review_count: 2 });
    }));

  it('counts active and completed enrollments only: a drop takes the rating out, enrolling again puts it back', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const [a, b] = [await user(tx), await user(tx)];
      const ea = await enrollAs(tx, a, c.id);
      const eb = await enrollAs(tx, b, c.id);
      await rate(tx, a, ea.id, 1, 'not for me');
      await rate(tx, b, eb.id, 5);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '3.00', review_count: 2 });
      await tx.becomeUser(a);
      await tx.query('select lms_public.drop_course($1)', [c.id]);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '5.00', review_count: 1 });
      await enrollAs(tx, a, c.id);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '3.00', review_count: 2 });
      await tx.becomeRoot();
      await tx.query("update lms_public.enrollments set status = 'expired' where id = $1", [eb.id]);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '1.00', review_count: 1 });
    }));

  it('editing only the review text leaves the rating as it was', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const a = await user(tx);
      const ea = await enrollAs(tx, a, c.id);
      await rate(tx, a, ea.id, 3, 'ok');
      await tx.becomeUser(a);
      await tx.query("update lms_public.enrollments set review = 'better than I said' where id = $1", [ea.id]);
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: '3.00', review_count: 1 });
    }));

  it('instructors and admins cannot write the rating of the course directly', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c } = await publishedCourse(tx, 1);
      const admin = await user(tx, 'admin');
      for (const who of [teacher, admin]) {
        await tx.becomeUser(who);
        await tx.query('savepoint s');
        await expect(tx.query('update lms_public.courses set average_rating = 5, review_count = 100 where id = $1', [c.id])).rejects.toMatchObject({
          code: '42501',
        });
        await tx.query('rollback to savepoint s');
      }
      expect(await publicRating(tx, c.id)).toEqual({ average_rating: null, review_count: 0 });
    }));
});
