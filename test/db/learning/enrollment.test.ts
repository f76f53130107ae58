import { createTestDatabase, type TestDatabase, expectCode } from '../../support/db.ts';
import { course, enrollAs, enrollmentRow, expectInvariants, lesson, publishedCourse, user } from '../../support/courses.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const enroll = 'select * from lms_public.enroll($1)';
const NO_COURSE = '00000000-0000-0000-0000-000000000000';

describe('enroll', () => {
  it('enrolls in a published free course, with the counting lessons as total; enrolling again returns the same row', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 3);
      const section = await lesson(tx, c.id, { title: 'Section' });
      await lesson(tx, c.id, { parentId: section });
      const student = await user(tx);
      const first = await enrollAs(tx, student, c.id);
      expect(first).toMatchObject({ student_id: student.id, course_id: c.id, status: 'active', total_lessons_count: 4, progress_percentage: '0.00' });
      const again = await enrollAs(tx, student, c.id);
      expect(again.id).toBe(first.id);
      await expectInvariants(tx, first.id);
      expect((await tx.query('select count(*)::int as n from lms_public.enrollments')).rows).toEqual([{ n: 1 }]);
    }));

  it('refuses a paid course (PAYRQ), a draft or unknown course (NTFND)', () =>
    db.transaction(async (tx) => {
      const { course: paid } = await publishedCourse(tx, 1, { price: 49.5 });
      const teacher = await user(tx, 'instructor');
      const draft = await course(tx, teacher.id, { isPublished: false });
      await lesson(tx, draft.id);
      const student = await user(tx);
      await tx.becomeUser(student);
      await expectCode(tx, enroll, [paid.id], 'PAYRQ');
      await expectCode(tx, enroll, [draft.id], 'NTFND');
      await expectCode(tx, enroll, [NO_COURSE], 'NTFND');
      await tx.becomeRoot();
      expect((await tx.query('select count(*)::int as n from lms_public.enrollments where student_id = $1', [student.id])).rows).toEqual([{ n: 0 }]);
    }));

  it('refuses anonymous visitors, and a visitor role without a user claim, with NOAUT', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 1);
      for (const asNobody of [
        "set local role lms_anonymous; select set_config('jwt.claims.user_id', '', true)",
        "set local role lms_student; select set_config('jwt.claims.user_id', '', true)",
      ]) {
        await tx.query(asNobody);
        await expectCode(tx, enroll, [c.id], 'NOAUT');
        await expectCode(tx, 'select lms_public.drop_course($1)', [c.id], 'NOAUT');
        await expectCode(tx, 'select lms_public.start_lesson($1)', [lessons[0]], 'NOAUT');
        await expectCode(tx, 'select lms_public.record_lesson_progress($1, 1, 1)', [lessons[0]], 'NOAUT');
        await expectCode(tx, 'select lms_public.complete_lesson($1)', [lessons[0]], 'NOAUT');
      }
      await tx.becomeRoot();
      expect((await tx.query('select count(*)::int as n from lms_public.enrollments')).rows).toEqual([{ n: 0 }]);
    }));

  it('students cannot insert enrollments directly', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const student = await user(tx);
      await tx.becomeUser(student);
      await expectCode(tx, 'insert into lms_public.enrollments (student_id, course_id) values ($1, $2)', [student.id, c.id], '42501');
    }));
});

describe('drop_course', () => {
  it('drops; enrolling again reactivates the same row with its progress', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 2);
      const student = await user(tx);
      const e = await enrollAs(tx, student, c.id);
      await tx.query('select lms_public.complete_lesson($1)', [lessons[0]]);
      const dropped = (await tx.query('select * from lms_public.drop_course($1)', [c.id])).rows[0];
      expect(dropped).toMatchObject({ id: e.id, status: 'dropped', completed_lessons_count: 1 });
      // A dropped student cannot work on the course.
      await expectCode(tx, 'select lms_public.complete_lesson($1)', [lessons[1]], 'FRBDN');
      const back = await enrollAs(tx, student, c.id);
      expect(back).toMatchObject({ id: e.id, status: 'active', completed_lessons_count: 1, progress_percentage: '50.00' });
      await expectInvariants(tx, e.id);
    }));

  it('a dropped student whose lessons are all complete comes back completed', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 2);
      const student = await user(tx);
      const e = await enrollAs(tx, student, c.id);
      await tx.query('select lms_public.complete_lesson($1)', [lessons[0]]);
      await tx.query('select lms_public.drop_course($1)', [c.id]);
      await tx.becomeRoot();
      await tx.query('update lms_public.lessons set archived_at = now() where id = $1', [lessons[1]]);
      const back = await enrollAs(tx, student, c.id);
      expect(back).toMatchObject({ id: e.id, status: 'completed' });
      await expectInvariants(tx, e.id);
    }));

  it('a completed enrollment cannot be dropped (INVAL); no enrollment is NTFND', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 1);
      const student = await user(tx);
      await enrollAs(tx, student, c.id);
      await tx.query('select lms_public.complete_lesson($1)', [lessons[0]]);
      await expectCode(tx, 'select lms_public.drop_course($1)', [c.id], 'INVAL');
      await expectCode(tx, 'select lms_public.drop_course($1)', [NO_COURSE], 'NTFND');
      expect((await tx.query('select status from lms_public.enrollments')).rows).toEqual([{ status: 'completed' }]);
    }));

  it('re-enrolling after the course left the catalog is refused (NTFND), and a paid one asks for payment', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const student = await user(tx);
      await enrollAs(tx, student, c.id);
      await tx.query('select lms_public.drop_course($1)', [c.id]);
      await tx.becomeRoot();
      await tx.query('update lms_public.courses set price = 10 where id = $1', [c.id]);
      await tx.becomeUser(student);
      await expectCode(tx, enroll, [c.id], 'PAYRQ');
      await tx.becomeRoot();
      await tx.query('update lms_public.courses set is_published = false where id = $1', [c.id]);
      await tx.becomeUser(student);
      await expectCode(tx, enroll, [c.id], 'NTFND');
    }));

  it('an active enrollment is kept when the course becomes paid or unpublished', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const student = await user(tx);
      const e = await enrollAs(tx, student, c.id);
      await tx.becomeRoot();
      await tx.query('update lms_public.courses set price = 10, is_published = false where id = $1', [c.id]);
      const again = await enrollAs(tx, student, c.id);
      expect(again).toMatchObject({ id: e.id, status: 'active' });
    }));
});

describe('what a student may write on an enrollment', () => {
  it('not the status or the counters (42501)', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const student = await user(tx);
      const e = await enrollAs(tx, student, c.id);
      for (const set of [
        "status = 'completed'",
        'completed_lessons_count = 1',
        'total_lessons_count = 0',
        'progress_percentage = 100',
        'total_time_spent_seconds = 99999',
        'completed_at = now()',
        'certificate_issued_at = now()',
      ])
        await expectCode(tx, `update lms_public.enrollments set ${set} where id = $1`, [e.id], '42501');
      await expectCode(tx, 'delete from lms_public.enrollments where id = $1', [e.id], '42501');
      await expectInvariants(tx, e.id);
      expect((await enrollmentRow(tx, e.id)).status).toBe('active');
    }));

  it('the rating (1..5) and review of their own active or completed enrollment only', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 1);
      const student = await user(tx);
      const other = await user(tx);
      const e = await enrollAs(tx, student, c.id);
      const eOther = await enrollAs(tx, other, c.id);
      await tx.becomeUser(student);
      const review = 'update lms_public.enrollments set rating = $2, review = $3 where id = $1';
      expect((await tx.query(review, [e.id, 4, 'good'])).rowCount).toBe(1);
      expect((await tx.query(review, [eOther.id, 1, 'sabotage'])).rowCount).toBe(0);
      await expectCode(tx, review, [e.id, 6, 'too much'], '23514');
      await expectCode(tx, review, [e.id, 0, 'too little'], '23514');
      await tx.query('select lms_public.complete_lesson($1)', [lessons[0]]);
      expect((await tx.query(review, [e.id, 5, 'finished'])).rowCount).toBe(1);
      const row = await enrollmentRow(tx, eOther.id);
      expect([row.rating, row.review]).toEqual([null, null]);
    }));

  it('a dropped enrollment cannot be reviewed', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const student = await user(tx);
      const e = await enrollAs(tx, student, c.id);
      await tx.query('select lms_public.drop_course($1)', [c.id]);
      await tx.query('savepoint s');
      const outcome = await tx.query("update lms_public.enrollments set rating = 1, review = 'bad' where id = $1", [e.id]).then(
        (r) => `rows ${r.rowCount}`,
        (err: { code?: string }) => `${err.code}`,
      );
      await tx.query('rollback to savepoint s');
      expect(['rows 0', 'FRBDN']).toContain(outcome);
      const row = await enrollmentRow(tx, e.id);
      expect([row.rating, row.review]).toEqual([null, null]);
    }));
});

describe('what an instructor sees of enrollments', () => {
  it("their courses' enrollments and the students' names, not the students' user rows; not other courses'", () =>
    db.transaction(async (tx) => {
      const { teacher, course: c } = await publishedCourse(tx, 1);
      const other = await user(tx, 'instructor');
      const student = await user(tx, 'student', 'Ada Lovelace');
      const e = await enrollAs(tx, student, c.id);
      const names = 'select id, lms_public.enrollments_student_name(e) as name from lms_public.enrollments e';
      await tx.becomeUser(teacher);
      expect((await tx.query(names)).rows).toEqual([{ id: e.id, name: 'Ada Lovelace' }]);
      expect((await tx.query('select count(*)::int as n from lms_public.users where id = $1', [student.id])).rows).toEqual([{ n: 0 }]);
      // Seeing is not writing: the review belongs to the student.
      expect((await tx.query('update lms_public.enrollments set rating = 1 where id = $1', [e.id])).rowCount).toBe(0);
      await tx.becomeUser(other);
      expect((await tx.query(names)).rows).toEqual([]);
      // Even with the row in hand, the name stays hidden from another instructor.
      await tx.becomeRoot();
      const { rows } = await tx.query<{ row: string }>('select e::text as row from lms_public.enrollments e where id = $1', [e.id]);
      await tx.becomeUser(other);
      expect((await tx.query('select lms_public.enrollments_student_name($1::text::lms_public.enrollments) as name', [rows[0]!.row])).rows).toEqual([
        { name: null },
      ]);
      await tx.becomeUser(student);
      expect((await tx.query(names)).rows).toEqual([{ id: e.id, name: 'Ada Lovelace' }]);
    }));
});
