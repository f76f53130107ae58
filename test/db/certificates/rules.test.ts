import { createTestDatabase, type TestDatabase, type Transaction, expectCode } from '../../support/db.ts';
import { insertCourse, insertUser } from '../../support/fixtures.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

/** A published course with `lessons` text lessons, a student enrolled, as root. */
async function setup(tx: Transaction, lessons = 2) {
  const teacher = await insertUser(tx.client, { role: 'instructor' });
  const student = await insertUser(tx.client, { fullName: 'Amal Mansour' });
  const course = await insertCourse(tx.client, teacher.id, { isPublished: true, title: 'Rules in SQL' });
  const { rows: lessonRows } = await tx.query(
    "insert into lms_public.lessons (course_id, title, lesson_type) select $1, 'L' || i, 'text' from generate_series(1, $2) i returning id",
    [course.id, lessons],
  );
  const { rows } = await tx.query('insert into lms_public.enrollments (student_id, course_id) values ($1, $2) returning id', [student.id, course.id]);
  return { teacher, student, course, lessonIds: lessonRows.map((r) => r.id as string), enrollmentId: rows[0].id as string };
}

async function complete(tx: Transaction, enrollmentId: string, lessonId: string) {
  await tx.query(
    "insert into lms_public.lesson_progress (enrollment_id, lesson_id, status, started_at, completed_at) values ($1, $2, 'completed', now(), now())",
    [enrollmentId, lessonId],
  );
}

const issueJobs = async (tx: Transaction, enrollmentId: string) =>
  (await tx.query("select key from graphile_worker.jobs where task_identifier = 'certificates__issue' and key = $1", [`certificates__issue:${enrollmentId}`]))
    .rowCount;

describe('eligibility', () => {
  it('queues nothing at 50%, and one keyed job when the enrollment completes', () =>
    db.transaction(async (tx) => {
      const s = await setup(tx);
      await complete(tx, s.enrollmentId, s.lessonIds[0]!);
      expect(await issueJobs(tx, s.enrollmentId)).toBe(0);
      expect((await tx.query('select lms_private.prepare_certificate($1) as c', [s.enrollmentId])).rows[0].c).toBeNull();
      await complete(tx, s.enrollmentId, s.lessonIds[1]!);
      expect(await issueJobs(tx, s.enrollmentId)).toBe(1);
    }));

  it('a course that completes twice (new lesson, then completed again) still has one job and one certificate', () =>
    db.transaction(async (tx) => {
      const s = await setup(tx, 1);
      await complete(tx, s.enrollmentId, s.lessonIds[0]!);
      const first = (await tx.query('select * from lms_private.prepare_certificate($1)', [s.enrollmentId])).rows[0];
      const { rows } = await tx.query("insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'More', 'text') returning id", [s.course.id]);
      await complete(tx, s.enrollmentId, rows[0].id);
      expect(await issueJobs(tx, s.enrollmentId)).toBe(1);
      const again = (await tx.query('select * from lms_private.prepare_certificate($1)', [s.enrollmentId])).rows[0];
      expect(again.certificate_number).toBe(first.certificate_number);
      expect((await tx.query('select count(*)::int as n from lms_public.certificates where enrollment_id = $1', [s.enrollmentId])).rows[0].n).toBe(1);
      expect(first).toMatchObject({ holder_name: 'Amal Mansour', course_title: 'Rules in SQL', pdf_path: `certificates/${first.certificate_number}.pdf` });
    }));
});

describe('who sees certificates', () => {
  it('the holder, the course instructor and admins; nobody else; anyone may verify the number', () =>
    db.transaction(async (tx) => {
      const s = await setup(tx, 1);
      const stranger = await insertUser(tx.client);
      const otherTeacher = await insertUser(tx.client, { role: 'instructor' });
      const admin = await insertUser(tx.client, { role: 'admin' });
      await complete(tx, s.enrollmentId, s.lessonIds[0]!);
      const number = (await tx.query('select (lms_private.prepare_certificate($1)).certificate_number as n', [s.enrollmentId])).rows[0].n;
      const count = async () => (await tx.query('select count(*)::int as n from lms_public.certificates')).rows[0].n;

      for (const [who, n] of [
        [s.student, 1],
        [s.teacher, 1],
        [admin, 1],
        [stranger, 0],
        [otherTeacher, 0],
      ] as const) {
        await tx.becomeUser(who);
        expect(await count()).toBe(n);
      }
      await tx.becomeAnonymous();
      await expectCode(tx, 'select count(*) from lms_public.certificates', [], '42501');
      const { rows } = await tx.query('select * from lms_public.verify_certificate($1)', [number.toLowerCase()]);
      expect(rows[0]).toMatchObject({ certificate_number: number, status: 'pending', holder_name: 'Amal Mansour', course_title: 'Rules in SQL' });
      expect(Object.keys(rows[0])).not.toContain('student_id');
      const typo = number.slice(0, -1) + (number.endsWith('7') ? '8' : '7');
      expect((await tx.query('select lms_public.verify_certificate($1) is null as missing', [typo])).rows[0].missing).toBe(true);
    }));
});

describe('revocation and reissue', () => {
  it('admins only; revocation needs a reason and deletes nothing; reissue keeps the old number, revoked and replaced', () =>
    db.transaction(async (tx) => {
      const s = await setup(tx, 1);
      const admin = await insertUser(tx.client, { role: 'admin' });
      await complete(tx, s.enrollmentId, s.lessonIds[0]!);
      const prepared = (await tx.query('select * from lms_private.prepare_certificate($1)', [s.enrollmentId])).rows[0];
      await tx.query("select lms_private.complete_certificate($1, '{}', repeat('a', 64), 'sig', 'dev', repeat('b', 64))", [prepared.certificate_id]);

      await tx.becomeUser(s.teacher);
      await expectCode(tx, 'select lms_public.revoke_certificate($1, $2)', [prepared.certificate_id, 'cheating'], 'FRBDN');
      await tx.becomeAnonymous();
      await expectCode(tx, 'select lms_public.reissue_certificate($1)', [prepared.certificate_id], 'FRBDN');

      await tx.becomeUser(admin);
      await expectCode(tx, 'select lms_public.revoke_certificate($1, $2)', [prepared.certificate_id, '  '], 'INVAL');
      await tx.query('select lms_public.revoke_certificate($1, $2)', [prepared.certificate_id, 'Plagiarised final assignment']);
      let verified = (await tx.query('select * from lms_public.verify_certificate($1)', [prepared.certificate_number])).rows[0];
      expect(verified).toMatchObject({ status: 'revoked', revoked_reason: 'Plagiarised final assignment', revoked_at: expect.any(Date) });

      const reissued = (await tx.query('select * from lms_public.reissue_certificate($1)', [prepared.certificate_id])).rows[0];
      expect(reissued.certificate_number).not.toBe(prepared.certificate_number);
      expect(reissued).toMatchObject({ id: prepared.certificate_id, is_revoked: false, signature: null });
      verified = (await tx.query('select * from lms_public.verify_certificate($1)', [prepared.certificate_number])).rows[0];
      expect(verified).toMatchObject({
        status: 'revoked',
        revoked_reason: 'Plagiarised final assignment',
        replaced_by: reissued.certificate_number,
        claims_sha256: 'a'.repeat(64),
      });
      expect((await tx.query('select (lms_public.verify_certificate($1)).status', [reissued.certificate_number])).rows[0].status).toBe('pending');
      await tx.becomeRoot();
      expect((await tx.query('select count(*)::int as n from lms_public.certificates where enrollment_id = $1', [s.enrollmentId])).rows[0].n).toBe(1);
      expect(await issueJobs(tx, s.enrollmentId)).toBe(1);
    }));
});

describe('a graded quiz must be passed', () => {
  it('a failed graded quiz issues nothing; passing it completes the course and queues the certificate', () =>
    db.transaction(async (tx) => {
      const teacher = await insertUser(tx.client, { role: 'instructor' });
      const student = await insertUser(tx.client);
      const course = await insertCourse(tx.client, teacher.id, { isPublished: true });
      const lesson = (await tx.query("insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'Final', 'quiz') returning id", [course.id]))
        .rows[0].id;
      const quiz = (
        await tx.query(
          "insert into lms_public.quizzes (lesson_id, title, quiz_type, passing_score, is_published, shuffle_questions) values ($1, 'Final', 'graded', 100, true, false) returning id",
          [lesson],
        )
      ).rows[0].id;
      await tx.becomeUser(teacher);
      const question = (await tx.query("select id from lms_public.save_quiz_question($1, 'SQL is declarative', 'true_false', '{\"correct\": true}')", [quiz]))
        .rows[0].id;
      await tx.becomeUser(student);
      const enrollment = (await tx.query('select id from lms_public.enroll($1)', [course.id])).rows[0].id;
      const attempt = async (answer: boolean) => {
        const id = (await tx.query('select id from lms_public.start_quiz_attempt($1)', [quiz])).rows[0].id;
        return (await tx.query('select is_passed from lms_public.submit_quiz_attempt($1, $2)', [id, JSON.stringify({ [question]: answer })])).rows[0].is_passed;
      };

      expect(await attempt(false)).toBe(false);
      await tx.becomeRoot();
      expect(await issueJobs(tx, enrollment)).toBe(0);
      expect((await tx.query('select status from lms_public.enrollments where id = $1', [enrollment])).rows[0].status).toBe('active');

      await tx.becomeUser(student);
      expect(await attempt(true)).toBe(true);
      await tx.becomeRoot();
      expect((await tx.query('select status from lms_public.enrollments where id = $1', [enrollment])).rows[0].status).toBe('completed');
      expect(await issueJobs(tx, enrollment)).toBe(1);
    }));
});

describe('a reissue keeps the revocation', () => {
  it('a revoked number, once reissued, verifies as revoked (date, reason) and replaced by the new number', () =>
    db.transaction(async (tx) => {
      const s = await setup(tx, 1);
      const admin = await insertUser(tx.client, { role: 'admin' });
      await complete(tx, s.enrollmentId, s.lessonIds[0]!);
      const prepared = (await tx.query('select * from lms_private.prepare_certificate($1)', [s.enrollmentId])).rows[0];
      await tx.query("select lms_private.complete_certificate($1, '{}', repeat('a', 64), 'sig', 'dev', repeat('b', 64))", [prepared.certificate_id]);
      await tx.becomeUser(admin);
      const revoked = (await tx.query('select * from lms_public.revoke_certificate($1, $2)', [prepared.certificate_id, 'Issued to the wrong name'])).rows[0];
      const reissued = (await tx.query('select * from lms_public.reissue_certificate($1)', [prepared.certificate_id])).rows[0];

      await tx.becomeAnonymous();
      const old = (await tx.query('select * from lms_public.verify_certificate($1)', [prepared.certificate_number])).rows[0];
      expect(old).toMatchObject({
        status: 'revoked',
        revoked_at: revoked.revoked_at,
        revoked_reason: 'Issued to the wrong name',
        replaced_by: reissued.certificate_number,
      });
      const current = (await tx.query('select * from lms_public.verify_certificate($1)', [reissued.certificate_number])).rows[0];
      expect(current).toMatchObject({ status: 'pending', revoked_at: null, revoked_reason: null });
    }));

  it('a number reissued without a revocation is replaced, not revoked', () =>
    db.transaction(async (tx) => {
      const s = await setup(tx, 1);
      const admin = await insertUser(tx.client, { role: 'admin' });
      await complete(tx, s.enrollmentId, s.lessonIds[0]!);
      const prepared = (await tx.query('select * from lms_private.prepare_certificate($1)', [s.enrollmentId])).rows[0];
      await tx.becomeUser(admin);
      const reissued = (await tx.query('select * from lms_public.reissue_certificate($1)', [prepared.certificate_id])).rows[0];
      const old = (await tx.query('select * from lms_public.verify_certificate($1)', [prepared.certificate_number])).rows[0];
      expect(old).toMatchObject({ status: 'replaced', revoked_at: null, revoked_reason: null, replaced_by: reissued.certificate_number });
    }));
});
