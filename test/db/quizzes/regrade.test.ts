import { createTestDatabase, type TestDatabase, type Transaction, asRoot, expectCode } from '../../support/db.ts';
import { abcd, addQuestion, attemptRow, enrollAs, gradesOf, newUser, setupQuiz, start, submit } from '../../support/quizzes.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const regrade = 'select lms_public.regrade_quiz($1) as n';
const resave = `select lms_public.save_quiz_question(quiz_id => $1, question_id => $2, question_text => 'Q', question_type => $3,
                  answer_key => $4, points => $5, options => $6)`;

/** Multiple choice (1 point, key a), true/false (1 point, key true), an essay (2 points). */
async function quiz(tx: Transaction) {
  const setup = await setupQuiz(tx, { passingScore: 50, maxAttempts: null });
  const mc = await addQuestion(tx, setup.quizId, { type: 'multiple_choice', options: abcd, key: { correct: ['a'] } });
  const tf = await addQuestion(tx, setup.quizId, { type: 'true_false', key: { correct: true } });
  const essay = await addQuestion(tx, setup.quizId, { type: 'essay', points: 2 });
  return { ...setup, mc, tf, essay };
}

async function student(tx: Transaction, courseId: string) {
  const s = await newUser(tx);
  const enrollmentId = await enrollAs(tx, s, courseId);
  return { ...s, enrollmentId };
}

describe('regrade_quiz', () => {
  it('recomputes automatic grades from the stored answers with the new key and points, keeps essay grades, and returns the count', () =>
    db.transaction(async (tx) => {
      const { quizId, courseId, teacher, mc, tf, essay } = await quiz(tx);
      // Graded: mc right, tf wrong, essay 1 of 2.
      await student(tx, courseId);
      const graded = await submit(tx, (await start(tx, quizId)).id, { [mc]: ['a'], [tf]: false, [essay]: 'My essay' });
      await tx.becomeUser(teacher);
      await tx.query('select lms_public.grade_essay($1, $2, 1, $3)', [graded.id, essay, 'Fair']);
      // Submitted, its essay still waiting: mc wrong, tf right.
      await student(tx, courseId);
      const waiting = await submit(tx, (await start(tx, quizId)).id, { [mc]: 'b', [tf]: true, [essay]: 'Other essay' });
      // In progress: never regraded.
      await student(tx, courseId);
      const open = await start(tx, quizId);

      expect(await attemptRow(tx, graded.id)).toMatchObject({ status: 'graded', score: '2.00', max_score: '4.00', percentage: '50.00', is_passed: true });
      await tx.becomeUser(teacher);
      await tx.query(resave, [quizId, mc, 'multiple_choice', JSON.stringify({ correct: ['b'] }), 1, JSON.stringify(abcd)]);
      await tx.query(resave, [quizId, tf, 'true_false', JSON.stringify({ correct: true }), 3, null]);
      expect((await tx.query(regrade, [quizId])).rows).toEqual([{ n: 2 }]);

      // Now mc wrong (0), tf wrong (0 of 3), essay kept (1 of 2): 1 of 6.
      expect(await attemptRow(tx, graded.id)).toMatchObject({
        status: 'graded',
        score: '1.00',
        max_score: '6.00',
        percentage: '16.67',
        is_passed: false,
        answers: { [mc]: ['a'], [tf]: false },
      });
      const g = await gradesOf(tx, graded.id);
      expect([g.get(mc), g.get(tf), g.get(essay)]).toEqual([
        { points_awarded: '0.00', is_correct: false, feedback: null },
        { points_awarded: '0.00', is_correct: false, feedback: null },
        { points_awarded: '1.00', is_correct: null, feedback: 'Fair' },
      ]);
      // The waiting attempt has new automatic grades but stays waiting, with no totals.
      expect(await attemptRow(tx, waiting.id)).toMatchObject({ status: 'submitted', score: null, percentage: null, is_passed: null });
      const w = await gradesOf(tx, waiting.id);
      expect([w.get(mc)?.points_awarded, w.get(tf)?.points_awarded, w.get(essay)]).toEqual(['1.00', '3.00', undefined]);
      expect(await attemptRow(tx, open.id)).toMatchObject({ status: 'in_progress', score: null });
      expect(await gradesOf(tx, open.id)).toEqual(new Map());
    }));

  it('regrading twice with the same keys changes nothing', () =>
    db.transaction(async (tx) => {
      const { quizId, courseId, teacher, mc, tf, essay } = await quiz(tx);
      await student(tx, courseId);
      const a = await submit(tx, (await start(tx, quizId)).id, { [mc]: ['a'], [tf]: true, [essay]: 'x' });
      await tx.becomeUser(teacher);
      await tx.query('select lms_public.grade_essay($1, $2, 2)', [a.id, essay]);
      const before = await attemptRow(tx, a.id);
      await tx.query(regrade, [quizId]);
      await tx.query(regrade, [quizId]);
      const after = await attemptRow(tx, a.id);
      expect({ ...after, graded_at: null }).toEqual({ ...before, graded_at: null });
    }));

  it('a completion already earned stays earned when a regrade turns the pass into a fail', () =>
    db.transaction(async (tx) => {
      const setup = await setupQuiz(tx, { passingScore: 100 });
      const tf = await addQuestion(tx, setup.quizId, { type: 'true_false', key: { correct: true } });
      const s = await student(tx, setup.courseId);
      const a = await submit(tx, (await start(tx, setup.quizId)).id, { [tf]: true });
      expect(a.is_passed).toBe(true);
      const progress = () =>
        asRoot(tx, async (q) => ({
          lesson: (await q.query('select status, completed_at from lms_public.lesson_progress where enrollment_id = $1', [s.enrollmentId])).rows[0],
          enrollment: (await q.query('select status, progress_percentage, completed_at from lms_public.enrollments where id = $1', [s.enrollmentId])).rows[0],
        }));
      const earned = await progress();
      expect(earned).toMatchObject({ lesson: { status: 'completed' }, enrollment: { status: 'completed', progress_percentage: '100.00' } });

      await tx.becomeUser(setup.teacher);
      await tx.query(resave, [setup.quizId, tf, 'true_false', JSON.stringify({ correct: false }), 1, null]);
      expect((await tx.query(regrade, [setup.quizId])).rows).toEqual([{ n: 1 }]);
      expect(await attemptRow(tx, a.id)).toMatchObject({ status: 'graded', score: '0.00', percentage: '0.00', is_passed: false });
      expect(await progress()).toEqual(earned);
    }));

  it('only the instructor or an admin regrades (FRBDN for another instructor, 42501 for a student)', () =>
    db.transaction(async (tx) => {
      const { quizId, courseId } = await quiz(tx);
      const admin = await newUser(tx, 'admin');
      const other = await newUser(tx, 'instructor');
      await student(tx, courseId);
      await expectCode(tx, regrade, [quizId], '42501');
      await tx.becomeUser(other);
      await expectCode(tx, regrade, [quizId], 'FRBDN');
      await tx.becomeUser(admin);
      expect((await tx.query(regrade, [quizId])).rows).toEqual([{ n: 0 }]);
    }));
});
