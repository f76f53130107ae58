import { createTestDatabase, type TestDatabase, expectCode } from '../../support/db.ts';
import { enrollAs, expectInvariants, lesson, publishedCourse, user } from '../../support/courses.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const remove = 'select lms_public.remove_lesson($1) as outcome';

describe('remove_lesson', () => {
  it('deletes a lesson nobody has touched', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c, lessons } = await publishedCourse(tx, 2);
      const e = await enrollAs(tx, await user(tx), c.id);
      await tx.becomeUser(teacher);
      expect((await tx.query(remove, [lessons[1]])).rows).toEqual([{ outcome: 'deleted' }]);
      await tx.becomeRoot();
      expect((await tx.query('select count(*)::int as n from lms_public.lessons where id = $1', [lessons[1]])).rows).toEqual([{ n: 0 }]);
      expect((await expectInvariants(tx, e.id)).total_lessons_count).toBe(1);
    }));

  it('archives a lesson with progress: progress stays, the syllabus and the counts drop it, for every enrollment at once', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c, lessons } = await publishedCourse(tx, 3);
      const [first, second] = [lessons[0]!, lessons[1]!];
      const s1 = await user(tx);
      const s2 = await user(tx);
      const e1 = await enrollAs(tx, s1, c.id);
      await tx.query('select lms_public.complete_lesson($1)', [first]);
      await tx.query('select lms_public.complete_lesson($1)', [second]);
      const e2 = await enrollAs(tx, s2, c.id);
      await tx.query('select lms_public.start_lesson($1)', [second]);
      expect((await expectInvariants(tx, e1.id)).completed_lessons_count).toBe(2);

      await tx.becomeUser(teacher);
      expect((await tx.query(remove, [second])).rows).toEqual([{ outcome: 'archived' }]);
      const syllabus = await tx.query('select s.id from lms_public.courses c, lms_public.courses_syllabus(c) s where c.id = $1', [c.id]);
      expect(syllabus.rows.map((r) => r.id)).toEqual([first, lessons[2]]);
      expect(
        (await tx.query('select lms_public.lessons_counts_toward_completion(l) as counts from lms_public.lessons l where id = $1', [second])).rows,
      ).toEqual([{ counts: false }]);

      await tx.becomeRoot();
      const progress = await tx.query('select enrollment_id from lms_public.lesson_progress where lesson_id = $1 order by enrollment_id', [second]);
      expect(progress.rows.map((r) => r.enrollment_id)).toEqual([e1.id, e2.id].sort());
      const after1 = await expectInvariants(tx, e1.id);
      const after2 = await expectInvariants(tx, e2.id);
      expect([after1.total_lessons_count, after1.completed_lessons_count, after1.progress_percentage]).toEqual([2, 1, '50.00']);
      expect([after2.total_lessons_count, after2.completed_lessons_count]).toEqual([2, 0]);

      // The student keeps their progress row but no longer reads the lesson, nor works on it.
      await tx.becomeUser(s2);
      expect((await tx.query('select count(*)::int as n from lms_public.lesson_progress where lesson_id = $1', [second])).rows).toEqual([{ n: 1 }]);
      expect((await tx.query('select count(*)::int as n from lms_public.lessons where id = $1', [second])).rows).toEqual([{ n: 0 }]);
      await expectCode(tx, 'select lms_public.complete_lesson($1)', [second], 'NTFND');
    }));

  it('a direct DELETE as root archives a lesson with progress instead of destroying it', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 2);
      const e = await enrollAs(tx, await user(tx), c.id);
      await tx.query('select lms_public.complete_lesson($1)', [lessons[0]]);
      await tx.becomeRoot();
      const del = await tx.query('delete from lms_public.lessons where id = $1', [lessons[0]]);
      expect(del.rowCount).toBe(0);
      const { rows } = await tx.query(
        'select l.archived_at is not null as archived, (select count(*)::int from lms_public.lesson_progress p where p.lesson_id = l.id) as progress from lms_public.lessons l where l.id = $1',
        [lessons[0]],
      );
      expect(rows).toEqual([{ archived: true, progress: 1 }]);
      const after = await expectInvariants(tx, e.id);
      expect([after.total_lessons_count, after.completed_lessons_count]).toEqual([1, 0]);
    }));

  it('archiving every lesson leaves 0 of 0 at 0%, and the status as it was', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c, lessons } = await publishedCourse(tx, 2);
      const e1 = await enrollAs(tx, await user(tx), c.id);
      await tx.query('select lms_public.complete_lesson($1)', [lessons[0]]);
      const e2 = await enrollAs(tx, await user(tx), c.id);
      for (const l of lessons) await tx.query('select lms_public.complete_lesson($1)', [l]);
      await tx.becomeUser(teacher);
      for (const l of lessons) expect((await tx.query(remove, [l])).rows).toEqual([{ outcome: 'archived' }]);
      expect(await expectInvariants(tx, e1.id)).toMatchObject({ status: 'active', total_lessons_count: 0, progress_percentage: '0.00' });
      expect(await expectInvariants(tx, e2.id)).toMatchObject({ status: 'completed', total_lessons_count: 0, progress_percentage: '0.00' });
    }));

  it('refuses a section that still has live lessons', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c } = await publishedCourse(tx, 1);
      const section = await lesson(tx, c.id, { title: 'Section' });
      await lesson(tx, c.id, { parentId: section });
      await tx.becomeUser(teacher);
      await expectCode(tx, remove, [section], 'INVAL');
    }));

  it('only the instructor may remove: FRBDN for another instructor, 42501 for a student, NTFND for no lesson', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 1);
      const other = await user(tx, 'instructor');
      await enrollAs(tx, await user(tx), c.id);
      await expectCode(tx, remove, [lessons[0]], '42501');
      await tx.becomeUser(other);
      await expectCode(tx, remove, [lessons[0]], 'FRBDN');
      await expectCode(tx, remove, ['00000000-0000-0000-0000-000000000000'], 'NTFND');
    }));

  // Regression (fixed in migration 000008): remove_lesson checks only for LIVE children, then deletes; the archived children still
  // reference the section (parent_lesson_id, no ON DELETE action), so the delete fails with 23503.
  it('a section whose lessons were all archived can be removed', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c } = await publishedCourse(tx, 1);
      const section = await lesson(tx, c.id, { title: 'Section' });
      const child = await lesson(tx, c.id, { parentId: section });
      await enrollAs(tx, await user(tx), c.id);
      await tx.query('select lms_public.start_lesson($1)', [child]);
      await tx.becomeUser(teacher);
      expect((await tx.query(remove, [child])).rows).toEqual([{ outcome: 'archived' }]);
      const outcome = await tx.query(remove, [section]).then(
        (r) => r.rows[0].outcome as string,
        (e: { code?: string; message: string }) => `${e.code}: ${e.message}`,
      );
      expect(['deleted', 'archived']).toContain(outcome);
    }));
});
