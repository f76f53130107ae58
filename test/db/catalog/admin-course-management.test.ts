import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { course, enrollAs, lessons, user } from '../../support/courses.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

describe("an admin manages any instructor's course", () => {
  it('through the policies: sees and edits a draft and its lessons', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const admin = await user(tx, 'admin');
      const draft = await course(tx, teacher.id, { isPublished: false });
      const [l] = await lessons(tx, draft.id, 1);
      await tx.becomeUser(admin);
      expect((await tx.query("update lms_public.courses set description = 'fixed' where id = $1", [draft.id])).rowCount).toBe(1);
      expect((await tx.query("update lms_public.lessons set title = 'Fixed' where id = $1", [l])).rowCount).toBe(1);
    }));

  // can_manage_course() is SECURITY DEFINER: is_admin() must see the request's role, not the owner.
  it('through the definer functions: an admin can publish, unpublish, reorder, remove lessons, and read names and syllabus of a draft', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor', 'Grace Hopper');
      const admin = await user(tx, 'admin');
      const student = await user(tx, 'student', 'Alan Turing');
      const draft = await course(tx, teacher.id, { isPublished: false });
      const live = await course(tx, teacher.id, { isPublished: true });
      const draftLessons = await lessons(tx, draft.id, 2);
      const liveLessons = await lessons(tx, live.id, 2);
      const enrollment = await enrollAs(tx, student, live.id);

      await tx.becomeUser(admin);
      expect((await tx.query('select lms_private.is_admin() as admin')).rows).toEqual([{ admin: true }]);
      const calls: [string, string, unknown[]][] = [
        ['publish_course', 'select (lms_public.publish_course($1)).is_published::text as v', [draft.id]],
        ['unpublish_course', 'select (lms_public.unpublish_course($1)).is_published::text as v', [live.id]],
        ['reorder_lessons', 'select count(*)::text as v from lms_public.reorder_lessons($1, $2)', [draft.id, [...draftLessons].reverse()]],
        ['remove_lesson', 'select lms_public.remove_lesson($1) as v', [liveLessons[1]]],
        ['courses_syllabus', 'select count(*)::text as v from lms_public.courses c, lms_public.courses_syllabus(c) s where c.id = $1', [draft.id]],
        ['courses_instructor_name', 'select lms_public.courses_instructor_name(c) as v from lms_public.courses c where c.id = $1', [draft.id]],
        ['enrollments_student_name', 'select lms_public.enrollments_student_name(e) as v from lms_public.enrollments e where e.id = $1', [enrollment.id]],
      ];
      const outcomes: Record<string, string | null> = {};
      for (const [name, sql, params] of calls) {
        await tx.query('savepoint call');
        try {
          outcomes[name] = (await tx.query(sql, params)).rows[0]?.v ?? null;
        } catch (error) {
          outcomes[name] = `${(error as { code?: string }).code}: ${(error as Error).message}`;
        }
        await tx.query('rollback to savepoint call');
      }
      expect(outcomes).toEqual({
        publish_course: 'true',
        unpublish_course: 'false',
        reorder_lessons: '2',
        remove_lesson: 'deleted',
        courses_syllabus: '2',
        courses_instructor_name: 'Grace Hopper',
        enrollments_student_name: 'Alan Turing',
      });
    }));
});
