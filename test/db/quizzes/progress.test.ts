import { createTestDatabase, type TestDatabase, type Transaction, asRoot, expectCode } from '../../support/db.ts';
import { addQuestion, enrollAs, newUser, setupQuiz, start, submit, type QuizSettings } from '../../support/quizzes.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

/** A course with one text lesson and one quiz lesson (4 true/false questions), and an enrolled student. */
async function course(tx: Transaction, settings: QuizSettings = {}) {
  const setup = await setupQuiz(tx, { passingScore: 75, maxAttempts: null, ...settings }, { textLessons: 1 });
  const qs: string[] = [];
  for (let i = 0; i < 4; i++) qs.push(await addQuestion(tx, setup.quizId, { type: 'true_false', key: { correct: true } }));
  const student = await newUser(tx);
  const enrollmentId = await enrollAs(tx, student, setup.courseId);
  await tx.query('select lms_public.complete_lesson($1)', [setup.textLessons[0]]);
  /** An attempt with `right` of the 4 answers right. */
  const attempt = async (right: number) => {
    const a = await start(tx, setup.quizId);
    return submit(tx, a.id, Object.fromEntries(qs.map((q, i) => [q, i < right])));
  };
  return { ...setup, qs, student, enrollmentId, attempt };
}

function lessonProgress(tx: Transaction, enrollmentId: string, lessonId: string) {
  return asRoot(
    tx,
    async (q) =>
      (
        await q.query(
          'select status, completion_percentage, attempts_count, completed_at from lms_public.lesson_progress where enrollment_id = $1 and lesson_id = $2',
          [enrollmentId, lessonId],
        )
      ).rows[0],
  );
}

function enrollment(tx: Transaction, id: string) {
  return asRoot(
    tx,
    async (q) =>
      (await q.query('select status, progress_percentage, completed_lessons_count, total_lessons_count from lms_public.enrollments where id = $1', [id]))
        .rows[0],
  );
}

describe('quiz attempts and lesson progress', () => {
  it('failing a graded quiz does not complete its lesson; passing does, and the enrollment completes', () =>
    db.transaction(async (tx) => {
      const { enrollmentId, lessonId, attempt } = await course(tx);
      expect(await enrollment(tx, enrollmentId)).toEqual({
        status: 'active',
        progress_percentage: '50.00',
        completed_lessons_count: 1,
        total_lessons_count: 2,
      });

      expect(await attempt(2)).toMatchObject({ percentage: '50.00', is_passed: false });
      expect(await lessonProgress(tx, enrollmentId, lessonId)).toMatchObject({
        status: 'in_progress',
        completion_percentage: '50.00',
        attempts_count: 1,
        completed_at: null,
      });
      expect(await enrollment(tx, enrollmentId)).toMatchObject({ status: 'active', progress_percentage: '50.00' });

      expect(await attempt(3)).toMatchObject({ percentage: '75.00', is_passed: true });
      const done = await lessonProgress(tx, enrollmentId, lessonId);
      expect(done).toMatchObject({ status: 'completed', completion_percentage: '75.00', attempts_count: 2 });
      expect(done.completed_at).not.toBeNull();
      expect(await enrollment(tx, enrollmentId)).toEqual({
        status: 'completed',
        progress_percentage: '100.00',
        completed_lessons_count: 2,
        total_lessons_count: 2,
      });
    }));

  it('completion_percentage is the best attempt; a later failure keeps the completion; attempts_count counts them all', () =>
    db.transaction(async (tx) => {
      const { enrollmentId, lessonId, attempt } = await course(tx);
      await attempt(4);
      const completedAt = (await lessonProgress(tx, enrollmentId, lessonId)).completed_at;
      await attempt(1);
      await attempt(3);
      expect(await lessonProgress(tx, enrollmentId, lessonId)).toEqual({
        status: 'completed',
        completion_percentage: '100.00',
        attempts_count: 3,
        completed_at: completedAt,
      });
      expect(await enrollment(tx, enrollmentId)).toMatchObject({ status: 'completed' });
    }));

  it('a quiz lesson is not completed by hand (INVAL)', () =>
    db.transaction(async (tx) => {
      const { lessonId } = await course(tx);
      await expectCode(tx, 'select lms_public.complete_lesson($1)', [lessonId], 'INVAL');
    }));

  it('a practice quiz never completes its lesson and never counts toward the enrollment', () =>
    db.transaction(async (tx) => {
      const { enrollmentId, lessonId, attempt } = await course(tx, { quizType: 'practice' });
      // The practice lesson does not count: the text lesson alone completes the course.
      expect(await enrollment(tx, enrollmentId)).toEqual({
        status: 'completed',
        progress_percentage: '100.00',
        completed_lessons_count: 1,
        total_lessons_count: 1,
      });
      expect(await attempt(4)).toMatchObject({ is_passed: true, percentage: '100.00' });
      expect(await lessonProgress(tx, enrollmentId, lessonId)).toMatchObject({
        status: 'in_progress',
        completion_percentage: '100.00',
        attempts_count: 1,
        completed_at: null,
      });
      expect(await enrollment(tx, enrollmentId)).toEqual({
        status: 'completed',
        progress_percentage: '100.00',
        completed_lessons_count: 1,
        total_lessons_count: 1,
      });
    }));

  it('a practice pass does not complete the course when other lessons are left', () =>
    db.transaction(async (tx) => {
      const setup = await setupQuiz(tx, { quizType: 'practice', passingScore: 50 }, { textLessons: 2 });
      const q = await addQuestion(tx, setup.quizId, { type: 'true_false', key: { correct: true } });
      const student = await newUser(tx);
      const enrollmentId = await enrollAs(tx, student, setup.courseId);
      await submit(tx, (await start(tx, setup.quizId)).id, { [q]: true });
      expect(await lessonProgress(tx, enrollmentId, setup.lessonId)).toMatchObject({ status: 'in_progress' });
      expect(await enrollment(tx, enrollmentId)).toEqual({ status: 'active', progress_percentage: '0.00', completed_lessons_count: 0, total_lessons_count: 2 });
    }));

  it('an attempt awaiting an essay grade completes nothing until the passing grade arrives', () =>
    db.transaction(async (tx) => {
      const setup = await setupQuiz(tx, { passingScore: 50 });
      const tf = await addQuestion(tx, setup.quizId, { type: 'true_false', key: { correct: true } });
      const essay = await addQuestion(tx, setup.quizId, { type: 'essay', points: 1 });
      const student = await newUser(tx);
      const enrollmentId = await enrollAs(tx, student, setup.courseId);
      const attempt = await submit(tx, (await start(tx, setup.quizId)).id, { [tf]: true, [essay]: 'text' });
      expect(attempt.status).toBe('submitted');
      // The attempt counts at once; nothing is complete and no percentage is earned before the grade.
      expect(await lessonProgress(tx, enrollmentId, setup.lessonId)).toEqual({
        attempts_count: 1,
        completed_at: null,
        completion_percentage: '0.00',
        status: 'in_progress',
      });
      expect(await enrollment(tx, enrollmentId)).toMatchObject({ status: 'active', progress_percentage: '0.00' });
      await tx.becomeUser(setup.teacher);
      await tx.query('select lms_public.grade_essay($1, $2, 0)', [attempt.id, essay]);
      expect(await lessonProgress(tx, enrollmentId, setup.lessonId)).toMatchObject({ status: 'completed', completion_percentage: '50.00', attempts_count: 1 });
      expect(await enrollment(tx, enrollmentId)).toMatchObject({ status: 'completed', progress_percentage: '100.00' });
    }));
});
