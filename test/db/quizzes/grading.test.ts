import { createTestDatabase, type TestDatabase, type Transaction, expectCode } from '../../support/db.ts';
import type { TestUser } from '../../support/db.ts';
import { abcd, addQuestion, attemptQuestions, attemptRow, enrollAs, gradesOf, newUser, setupQuiz, start, submit } from '../../support/quizzes.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

/** One quiz with one question per automatically graded type, unlimited attempts, and an enrolled student. */
async function autoQuiz(tx: Transaction) {
  const setup = await setupQuiz(tx, { maxAttempts: null, passingScore: 50 });
  const q = {
    multi: await addQuestion(tx, setup.quizId, { type: 'multiple_choice', options: abcd, key: { correct: ['a', 'c'] }, points: 2 }),
    single: await addQuestion(tx, setup.quizId, { type: 'multiple_choice', options: abcd, key: { correct: ['b'] } }),
    yes: await addQuestion(tx, setup.quizId, { type: 'true_false', key: { correct: true } }),
    no: await addQuestion(tx, setup.quizId, { type: 'true_false', key: { correct: false } }),
    short: await addQuestion(tx, setup.quizId, { type: 'short_answer', key: { accepted: ['Paris', 'City of Light'] }, points: 3 }),
  };
  const student = await newUser(tx);
  await enrollAs(tx, student, setup.courseId);
  return { ...setup, q, student };
}

/** Submits one answer to one question in a fresh attempt; returns its grade row. */
async function gradeOf(tx: Transaction, quizId: string, questionId: string, answer: unknown) {
  const attempt = await start(tx, quizId);
  await submit(tx, attempt.id, { [questionId]: answer });
  const grade = (await gradesOf(tx, attempt.id)).get(questionId)!;
  return { correct: grade.is_correct, points: grade.points_awarded };
}

type Case = [string, keyof Awaited<ReturnType<typeof autoQuiz>>['q'], unknown, boolean];
const cases: Case[] = [
  ['multiple choice: the exact set', 'multi', ['a', 'c'], true],
  ['multiple choice: order is irrelevant', 'multi', ['c', 'a'], true],
  ['multiple choice: duplicates are ignored', 'multi', ['a', 'c', 'a'], true],
  ['multiple choice: an extra option is wrong', 'multi', ['a', 'b', 'c'], false],
  ['multiple choice: a missing option is wrong', 'multi', ['a'], false],
  ['multiple choice: nothing chosen is wrong', 'multi', [], false],
  ['multiple choice: a single id for a two-answer question is wrong', 'multi', 'a', false],
  ['multiple choice: an object is wrong', 'multi', { a: true, c: true }, false],
  ['single-answer multiple choice: a plain string id is accepted', 'single', 'b', true],
  ['single-answer multiple choice: an array of it', 'single', ['b'], true],
  ['single-answer multiple choice: another id', 'single', 'a', false],
  ['single-answer multiple choice: ids are case-sensitive', 'single', 'B', false],
  ['true/false: true', 'yes', true, true],
  ['true/false: false for a true key', 'yes', false, false],
  ['true/false: the string "true" is not true', 'yes', 'true', false],
  ['true/false: 1 is not true', 'yes', 1, false],
  ['true/false: false for a false key', 'no', false, true],
  ['true/false: the string "false" is not false', 'no', 'false', false],
  ['short answer: exact', 'short', 'Paris', true],
  ['short answer: trimmed', 'short', '   Paris  ', true],
  ['short answer: case-insensitive', 'short', 'pARIS', true],
  ['short answer: any accepted answer', 'short', ' city of LIGHT ', true],
  ['short answer: a near miss', 'short', 'Pariss', false],
  ['short answer: inner spaces count', 'short', 'Pa ris', false],
  ['short answer: empty', 'short', '', false],
  ['short answer: an array is not a string', 'short', ['Paris'], false],
  ['short answer: JSON null is no answer', 'short', null, false],
];

describe('automatic grading of each type', () => {
  it.each(cases)('%s', (_name, which, answer, correct) =>
    db.transaction(async (tx) => {
      const { quizId, q } = await autoQuiz(tx);
      const points = { multi: '2.00', single: '1.00', yes: '1.00', no: '1.00', short: '3.00' }[which];
      expect(await gradeOf(tx, quizId, q[which], answer)).toEqual({ correct, points: correct ? points : '0.00' });
    }),
  );

  it('no answer at all is wrong with 0 points, and the attempt is graded 0 and failed', () =>
    db.transaction(async (tx) => {
      const { quizId, q } = await autoQuiz(tx);
      const attempt = await start(tx, quizId);
      const done = await submit(tx, attempt.id);
      expect(done).toMatchObject({ status: 'graded', score: '0.00', max_score: '8.00', percentage: '0.00', is_passed: false });
      const grades = await gradesOf(tx, attempt.id);
      expect(Object.values(q).map((id) => grades.get(id))).toEqual(Object.values(q).map(() => ({ points_awarded: '0.00', is_correct: false, feedback: null })));
    }));

  it('totals: score, max score, percentage and pass against the passing score', () =>
    db.transaction(async (tx) => {
      const { quizId, q } = await autoQuiz(tx);
      const all = await start(tx, quizId);
      const full = await submit(tx, all.id, { [q.multi]: ['c', 'a'], [q.single]: 'b', [q.yes]: true, [q.no]: false, [q.short]: 'paris' });
      expect(full).toMatchObject({ status: 'graded', score: '8.00', max_score: '8.00', percentage: '100.00', is_passed: true });
      expect(full.graded_at).not.toBeNull();
      // 3 of 8 points: 37.5% is below the 50% needed.
      const some = await start(tx, quizId);
      const partial = await submit(tx, some.id, { [q.short]: 'Paris', [q.yes]: false });
      expect(partial).toMatchObject({ status: 'graded', score: '3.00', max_score: '8.00', percentage: '37.50', is_passed: false });
      // Exactly the passing score passes.
      const half = await start(tx, quizId);
      expect(await submit(tx, half.id, { [q.short]: 'Paris', [q.yes]: true })).toMatchObject({ percentage: '50.00', is_passed: true });
    }));

  it("the attempt's answers keep what the student wrote, untouched by grading", () =>
    db.transaction(async (tx) => {
      const { quizId, q } = await autoQuiz(tx);
      const attempt = await start(tx, quizId);
      const written = { [q.multi]: ['c', 'a', 'c'], [q.single]: 'b', [q.yes]: 'true', [q.short]: '  pARIS ' };
      const done = await submit(tx, attempt.id, written);
      expect(done.answers).toEqual(written);
      expect((await attemptRow(tx, attempt.id)).answers).toEqual(written);
      expect((await attemptQuestions(tx, attempt.id)).map((x) => x.answer)).toEqual([['c', 'a', 'c'], 'b', 'true', null, '  pARIS ']);
    }));
});

describe('essays: graded by hand', () => {
  async function essayQuiz(tx: Transaction) {
    const setup = await setupQuiz(tx, { passingScore: 60 });
    const mc = await addQuestion(tx, setup.quizId, { type: 'multiple_choice', options: abcd, key: { correct: ['a'] }, points: 1 });
    const short = await addQuestion(tx, setup.quizId, { type: 'essay', points: 2 });
    const long = await addQuestion(tx, setup.quizId, { type: 'essay', points: 3 });
    const student = await newUser(tx);
    await enrollAs(tx, student, setup.courseId);
    const attempt = await start(tx, setup.quizId);
    const submitted = await submit(tx, attempt.id, { [mc]: ['a'], [short]: 'Because.', [long]: 'A long essay.' });
    return { ...setup, mc, short, long, student, attempt: submitted };
  }
  const grade = 'select * from lms_public.grade_essay($1, $2, $3, $4)';

  it('an attempt with essays stays submitted with no score, percentage or pass (never a zero)', () =>
    db.transaction(async (tx) => {
      const { attempt, mc } = await essayQuiz(tx);
      expect(attempt).toMatchObject({ status: 'submitted', score: null, max_score: null, percentage: null, is_passed: null, graded_at: null });
      expect(attempt.submitted_at).not.toBeNull();
      // The automatic part is graded already, but the student sees no points until the end.
      expect((await gradesOf(tx, attempt.id)).get(mc)).toMatchObject({ points_awarded: '1.00', is_correct: true });
      expect((await attemptQuestions(tx, attempt.id)).map((x) => x.points_awarded)).toEqual([null, null, null]);
    }));

  it('appears in the grading queue of its instructor and of admins, not of another instructor', () =>
    db.transaction(async (tx) => {
      const { attempt, teacher } = await essayQuiz(tx);
      const other = await newUser(tx, 'instructor');
      const admin = await newUser(tx, 'admin');
      const queue = 'select id from lms_public.grading_queue()';
      await tx.becomeUser(teacher);
      expect((await tx.query(queue)).rows).toEqual([{ id: attempt.id }]);
      await tx.becomeUser(admin);
      expect((await tx.query(queue)).rows).toEqual([{ id: attempt.id }]);
      await tx.becomeUser(other);
      expect((await tx.query(queue)).rows).toEqual([]);
    }));

  it("grade_essay refuses points above the question's or below zero (INVAL), a non-essay (NTFND), other people (FRBDN, 42501)", () =>
    db.transaction(async (tx) => {
      const { attempt, teacher, short, mc, student } = await essayQuiz(tx);
      const other = await newUser(tx, 'instructor');
      await tx.becomeUser(student as TestUser);
      await expectCode(tx, grade, [attempt.id, short, 1, null], '42501');
      await tx.becomeUser(other);
      await expectCode(tx, grade, [attempt.id, short, 1, null], 'FRBDN');
      await tx.becomeUser(teacher);
      await expectCode(tx, grade, [attempt.id, short, 2.01, null], 'INVAL');
      await expectCode(tx, grade, [attempt.id, short, -0.5, null], 'INVAL');
      await expectCode(tx, grade, [attempt.id, short, null, null], 'INVAL');
      await expectCode(tx, grade, [attempt.id, mc, 1, null], 'NTFND');
      expect((await gradesOf(tx, attempt.id)).get(short)).toBeUndefined();
    }));

  it('grade_essay refuses an attempt still in progress (INVAL)', () =>
    db.transaction(async (tx) => {
      const setup = await setupQuiz(tx);
      const essay = await addQuestion(tx, setup.quizId, { type: 'essay', points: 2 });
      const student = await newUser(tx);
      await enrollAs(tx, student, setup.courseId);
      const attempt = await start(tx, setup.quizId);
      await tx.becomeUser(setup.teacher);
      await expectCode(tx, grade, [attempt.id, essay, 1, null], 'INVAL');
    }));

  it('the last essay graded makes the attempt graded with its totals; feedback is stored per answer and shown to the student', () =>
    db.transaction(async (tx) => {
      const { attempt, teacher, short, long, student } = await essayQuiz(tx);
      await tx.becomeUser(teacher);
      const first = (await tx.query(grade, [attempt.id, short, 2, 'Concise'])).rows[0];
      expect(first).toMatchObject({ status: 'submitted', score: null, percentage: null, is_passed: null });
      const last = (await tx.query(grade, [attempt.id, long, 0.5, 'Too thin'])).rows[0];
      // 1 + 2 + 0.5 of 6 points.
      expect(last).toMatchObject({ status: 'graded', score: '3.50', max_score: '6.00', percentage: '58.33', is_passed: false });
      expect((await tx.query('select id from lms_public.grading_queue()')).rows).toEqual([]);
      const grades = await gradesOf(tx, attempt.id);
      expect([grades.get(short), grades.get(long)]).toEqual([
        { points_awarded: '2.00', is_correct: null, feedback: 'Concise' },
        { points_awarded: '0.50', is_correct: null, feedback: 'Too thin' },
      ]);
      await tx.becomeUser(student);
      const seen = await attemptQuestions(tx, attempt.id);
      // Essays show their grade and feedback; an automatic question's points follow the reveal rule.
      expect(seen.map((x) => [x.points_awarded, x.feedback, x.answer])).toEqual([
        [null, null, ['a']],
        ['2.00', 'Concise', 'Because.'],
        ['0.50', 'Too thin', 'A long essay.'],
      ]);
    }));

  it('regrading an essay of a graded attempt updates its totals and its feedback', () =>
    db.transaction(async (tx) => {
      const { attempt, teacher, short, long } = await essayQuiz(tx);
      await tx.becomeUser(teacher);
      await tx.query(grade, [attempt.id, short, 0, null]);
      await tx.query(grade, [attempt.id, long, 0, 'No']);
      const again = (await tx.query(grade, [attempt.id, long, 3, 'On reflection, good'])).rows[0];
      expect(again).toMatchObject({ status: 'graded', score: '4.00', percentage: '66.67', is_passed: true });
      expect((await gradesOf(tx, attempt.id)).get(long)).toMatchObject({ points_awarded: '3.00', feedback: 'On reflection, good' });
    }));
});

describe('short answers beyond ASCII', () => {
  it.each([
    ['  ÉCOLE\t', true],
    ['école\n', true],
    ['ecole', false],
  ])('%j against the accepted "École" is %s (ICU case folding, whitespace trimmed)', (answer, right) =>
    db.asRoot(async (c) => {
      const { rows } = await c.query("select lms_private.auto_grade('short_answer', $1, $2) as right", [
        JSON.stringify({ accepted: ['École'] }),
        JSON.stringify(answer),
      ]);
      expect(rows[0].right).toBe(right);
    }),
  );
});
