import { createTestDatabase, type TestDatabase, type Transaction, asRoot } from '../../support/db.ts';
import { addQuestion, attemptQuestions, enrollAs, newUser, setupQuiz, start, submit, type QuizSettings } from '../../support/quizzes.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

async function quiz(tx: Transaction, settings: QuizSettings) {
  const setup = await setupQuiz(tx, { passingScore: 100, ...settings });
  const tf = await addQuestion(tx, setup.quizId, { type: 'true_false', key: { correct: false }, explanation: 'Because false.' });
  const short = await addQuestion(tx, setup.quizId, { type: 'short_answer', key: { accepted: ['x'] }, explanation: 'It is x.' });
  const student = await newUser(tx);
  await enrollAs(tx, student, setup.courseId);
  const right = { [tf]: false, [short]: 'x' };
  const wrong = { [tf]: true, [short]: 'y' };
  return { ...setup, tf, short, student, right, wrong };
}

const keys = (rows: Awaited<ReturnType<typeof attemptQuestions>>) => rows.map((r) => [r.correct_answer, r.explanation]);
const HIDDEN = [
  [null, null],
  [null, null],
];
const SHOWN = [
  [{ correct: false }, 'Because false.'],
  [{ accepted: ['x'] }, 'It is x.'],
];

describe('QuizAttempt.questions: when the key shows', () => {
  it('hidden in progress and after a failure with attempts left; shown after a pass (show on); always to the instructor', () =>
    db.transaction(async (tx) => {
      const { quizId, right, wrong, teacher, student } = await quiz(tx, { showCorrectAnswers: true, maxAttempts: 3 });
      const first = await start(tx, quizId);
      expect(keys(await attemptQuestions(tx, first.id))).toEqual(HIDDEN);
      await submit(tx, first.id, wrong);
      expect(keys(await attemptQuestions(tx, first.id))).toEqual(HIDDEN);
      await tx.becomeUser(teacher);
      expect(keys(await attemptQuestions(tx, first.id))).toEqual(SHOWN);
      await tx.becomeUser(student);
      const second = await submit(tx, (await start(tx, quizId)).id, right);
      expect(second.is_passed).toBe(true);
      expect(keys(await attemptQuestions(tx, second.id))).toEqual(SHOWN);
    }));

  it('shown when no attempts are left (show on); never with show off', () =>
    db.transaction(async (tx) => {
      const on = await quiz(tx, { showCorrectAnswers: true, maxAttempts: 1 });
      const a = await submit(tx, (await start(tx, on.quizId)).id, on.wrong);
      expect(keys(await attemptQuestions(tx, a.id))).toEqual(SHOWN);

      const off = await quiz(tx, { showCorrectAnswers: false, maxAttempts: 2 });
      const b = await submit(tx, (await start(tx, off.quizId)).id, off.wrong);
      const c = await submit(tx, (await start(tx, off.quizId)).id, off.right);
      expect(c.is_passed).toBe(true);
      for (const id of [b.id, c.id]) expect(keys(await attemptQuestions(tx, id))).toEqual(HIDDEN);
    }));

  it("another student's attempt, passed by value, yields nothing", () =>
    db.transaction(async (tx) => {
      const { quizId, courseId, right } = await quiz(tx, { showCorrectAnswers: true, maxAttempts: 1 });
      const a = await submit(tx, (await start(tx, quizId)).id, right);
      const row = await asRoot(tx, async (q) => (await q.query('select a::text as r from lms_public.quiz_attempts a where id = $1', [a.id])).rows[0].r);
      const other = await newUser(tx);
      await enrollAs(tx, other, courseId);
      const { rows } = await tx.query('select * from lms_public.quiz_attempts_questions($1::lms_public.quiz_attempts)', [row]);
      expect(rows).toEqual([]);
    }));

  // Before migration 000009, starting the last attempt left none, which revealed attempt 1's key.
  it('an earlier key stays hidden while the last attempt is in progress', () =>
    db.transaction(async (tx) => {
      const { quizId, wrong } = await quiz(tx, { showCorrectAnswers: true, maxAttempts: 2 });
      const first = await submit(tx, (await start(tx, quizId)).id, wrong);
      const last = await start(tx, quizId);
      expect(last.status).toBe('in_progress');
      expect(keys(await attemptQuestions(tx, first.id))).toEqual(HIDDEN);
    }));
});
