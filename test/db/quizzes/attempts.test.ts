import { createTestDatabase, type TestDatabase, type Transaction, asRoot, expectCode } from '../../support/db.ts';
import { addQuestion, attemptQuestions, enrollAs, newUser, saveAnswers, setupQuiz, start, submit, type QuizSettings } from '../../support/quizzes.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const startSql = 'select * from lms_public.start_quiz_attempt($1)';

async function quizWithStudent(tx: Transaction, settings: QuizSettings = {}) {
  const setup = await setupQuiz(tx, settings);
  const tf = await addQuestion(tx, setup.quizId, { type: 'true_false', key: { correct: true } });
  const student = await newUser(tx);
  const enrollmentId = await enrollAs(tx, student, setup.courseId);
  return { ...setup, tf, student, enrollmentId };
}

async function numbers(tx: Transaction, enrollmentId: string, quizId: string): Promise<number[]> {
  return asRoot(tx, async (q) =>
    (
      await q.query('select attempt_number from lms_public.quiz_attempts where enrollment_id = $1 and quiz_id = $2 order by attempt_number', [
        enrollmentId,
        quizId,
      ])
    ).rows.map((r) => r.attempt_number),
  );
}

describe('starting an attempt', () => {
  it('needs an active or completed enrollment (FRBDN otherwise)', () =>
    db.transaction(async (tx) => {
      const { quizId, courseId, student, enrollmentId } = await quizWithStudent(tx);
      const stranger = await newUser(tx);
      await tx.becomeUser(stranger);
      await expectCode(tx, startSql, [quizId], 'FRBDN');
      // The course's own instructor is not enrolled either.
      const { teacher } = await quizWithStudent(tx);
      await tx.becomeUser(teacher);
      await expectCode(tx, startSql, [quizId], 'FRBDN');

      await tx.becomeUser(student);
      await tx.query('select lms_public.drop_course($1)', [courseId]);
      await expectCode(tx, startSql, [quizId], 'FRBDN');
      await asRoot(tx, (q) => q.query("update lms_public.enrollments set status = 'expired' where id = $1", [enrollmentId]));
      await expectCode(tx, startSql, [quizId], 'FRBDN');
      await asRoot(tx, (q) => q.query("update lms_public.enrollments set status = 'completed', completed_at = now() where id = $1", [enrollmentId]));
      expect(await start(tx, quizId)).toMatchObject({ enrollment_id: enrollmentId, attempt_number: 1, status: 'in_progress' });
    }));

  it('needs a published quiz (NTFND), and an existing one (NTFND); anonymous callers get NOAUT', () =>
    db.transaction(async (tx) => {
      const { quizId, student } = await quizWithStudent(tx, { isPublished: false });
      await tx.becomeUser(student);
      await expectCode(tx, startSql, [quizId], 'NTFND');
      await expectCode(tx, startSql, ['00000000-0000-0000-0000-000000000000'], 'NTFND');
      await tx.query("select set_config('jwt.claims.user_id', '', true)");
      await expectCode(tx, startSql, [quizId], 'NOAUT');
      await tx.becomeAnonymous();
      await expectCode(tx, startSql, [quizId], 'NOAUT');
      await expectCode(tx, 'select lms_public.submit_quiz_attempt($1, null)', [quizId], 'NOAUT');
    }));

  it('starting again returns the attempt in progress', () =>
    db.transaction(async (tx) => {
      const { quizId, enrollmentId } = await quizWithStudent(tx);
      const first = await start(tx, quizId);
      const again = await start(tx, quizId);
      expect(again).toEqual(first);
      expect(await numbers(tx, enrollmentId, quizId)).toEqual([1]);
    }));

  it('enforces max_attempts (ATMAX), counting attempts of every status', () =>
    db.transaction(async (tx) => {
      const { quizId, enrollmentId, tf } = await quizWithStudent(tx, { maxAttempts: 2 });
      await submit(tx, (await start(tx, quizId)).id, { [tf]: false });
      const second = await start(tx, quizId);
      expect(second.attempt_number).toBe(2);
      // The last attempt in progress is still returned.
      expect((await start(tx, quizId)).id).toBe(second.id);
      await submit(tx, second.id, { [tf]: false });
      await expectCode(tx, startSql, [quizId], 'ATMAX');
      expect(await numbers(tx, enrollmentId, quizId)).toEqual([1, 2]);
    }));

  it('numbers attempts 1..n without gaps, per enrollment and quiz', () =>
    db.transaction(async (tx) => {
      const { quizId, enrollmentId, courseId, tf } = await quizWithStudent(tx);
      for (let i = 0; i < 5; i++) await submit(tx, (await start(tx, quizId)).id, { [tf]: i % 2 === 0 });
      expect(await numbers(tx, enrollmentId, quizId)).toEqual([1, 2, 3, 4, 5]);
      // Another student of the same quiz starts at 1.
      const other = await newUser(tx);
      const otherEnrollment = await enrollAs(tx, other, courseId);
      expect((await start(tx, quizId)).attempt_number).toBe(1);
      expect(await numbers(tx, otherEnrollment, quizId)).toEqual([1]);
    }));

  it("someone else's attempt cannot be saved or submitted (NTFND); a submitted one cannot be saved or submitted again (ATDON)", () =>
    db.transaction(async (tx) => {
      const { quizId, courseId, tf, student } = await quizWithStudent(tx);
      const attempt = await start(tx, quizId);
      const intruder = await newUser(tx);
      await enrollAs(tx, intruder, courseId);
      await expectCode(tx, 'select lms_public.save_quiz_answers($1, $2)', [attempt.id, JSON.stringify({ [tf]: false })], 'NTFND');
      await expectCode(tx, 'select lms_public.submit_quiz_attempt($1, null)', [attempt.id], 'NTFND');
      // The intruder sees no trace of it.
      expect((await tx.query('select id from lms_public.quiz_attempts')).rows).toEqual([]);
      await tx.becomeUser(student);
      await expectCode(tx, 'select lms_public.save_quiz_answers($1, $2)', [attempt.id, '[true]'], 'INVAL');
      await expectCode(tx, 'select lms_public.submit_quiz_attempt($1, $2)', [attempt.id, '"x"'], 'INVAL');
      await submit(tx, attempt.id, { [tf]: true });
      await expectCode(tx, 'select lms_public.save_quiz_answers($1, $2)', [attempt.id, JSON.stringify({ [tf]: false })], 'ATDON');
      await expectCode(tx, 'select lms_public.submit_quiz_attempt($1, null)', [attempt.id], 'ATDON');
    }));

  it('save merges answers over the saved ones; submit merges its answers last', () =>
    db.transaction(async (tx) => {
      const setup = await setupQuiz(tx);
      const a = await addQuestion(tx, setup.quizId, { type: 'true_false', key: { correct: true } });
      const b = await addQuestion(tx, setup.quizId, { type: 'short_answer', key: { accepted: ['x'] } });
      const student = await newUser(tx);
      await enrollAs(tx, student, setup.courseId);
      const attempt = await start(tx, setup.quizId);
      await saveAnswers(tx, attempt.id, { [a]: false });
      expect((await saveAnswers(tx, attempt.id, { [b]: 'y' })).answers).toEqual({ [a]: false, [b]: 'y' });
      const done = await submit(tx, attempt.id, { [a]: true });
      expect(done.answers).toEqual({ [a]: true, [b]: 'y' });
      expect(done).toMatchObject({ score: '1.00', max_score: '2.00', percentage: '50.00' });
    }));
});

describe('attempt CHECKs', () => {
  it('percentage stays within 0..100 and is_passed is null until graded (23514)', () =>
    db.transaction(async (tx) => {
      const { quizId } = await quizWithStudent(tx);
      const open = await start(tx, quizId);
      await tx.becomeRoot();
      await expectCode(tx, 'update lms_public.quiz_attempts set percentage = 100.01 where id = $1', [open.id], '23514');
      await expectCode(tx, 'update lms_public.quiz_attempts set percentage = -1 where id = $1', [open.id], '23514');
      await expectCode(tx, 'update lms_public.quiz_attempts set is_passed = false where id = $1', [open.id], '23514');
      await expectCode(tx, "update lms_public.quiz_attempts set status = 'submitted', is_passed = true where id = $1", [open.id], '23514');
      const { rows } = await tx.query('select status, is_passed, percentage from lms_public.quiz_attempts where id = $1', [open.id]);
      expect(rows).toEqual([{ status: 'in_progress', is_passed: null, percentage: null }]);
    }));

  it('students cannot write attempts or grades directly (42501)', () =>
    db.transaction(async (tx) => {
      const { quizId, tf } = await quizWithStudent(tx);
      const attempt = await start(tx, quizId);
      await expectCode(tx, "update lms_public.quiz_attempts set score = 100, status = 'graded', is_passed = true where id = $1", [attempt.id], '42501');
      await expectCode(
        tx,
        'insert into lms_public.quiz_attempts (enrollment_id, quiz_id, attempt_number) values ($1, $2, 9)',
        [attempt.enrollment_id, quizId],
        '42501',
      );
      await expectCode(tx, 'insert into lms_public.quiz_answer_grades (attempt_id, question_id, points_awarded) values ($1, $2, 1)', [attempt.id, tf], '42501');
    }));
});

describe('question and option order', () => {
  const options = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({ id, text: `Option ${id}` }));

  async function shuffledQuiz(tx: Transaction, shuffle: boolean) {
    const setup = await setupQuiz(tx, { shuffleQuestions: shuffle, shuffleOptions: shuffle, maxAttempts: null });
    const ids: string[] = [];
    // Inserted in reverse order_index, so that insertion order and order_index differ.
    for (let i = 7; i >= 0; i--) {
      ids.unshift(await addQuestion(tx, setup.quizId, { type: 'multiple_choice', options, key: { correct: ['a'] }, orderIndex: i, text: `Q${i}` }));
    }
    const student = await newUser(tx);
    await enrollAs(tx, student, setup.courseId);
    return { ...setup, ids, student };
  }

  /** The question ids and, per question, the option ids as the student sees them. */
  async function seen(tx: Transaction, attemptId: string) {
    const rows = await attemptQuestions(tx, attemptId);
    expect(rows.map((r) => r.position)).toEqual(rows.map((_, i) => i + 1));
    return { questions: rows.map((r) => r.question_id), options: rows.map((r) => r.options!.map((o) => o.id)) };
  }

  it('with shuffling, the order is drawn once: the same across reads, save and submit', () =>
    db.transaction(async (tx) => {
      const { quizId, ids } = await shuffledQuiz(tx, true);
      const attempt = await start(tx, quizId);
      const first = await seen(tx, attempt.id);
      expect([...first.questions].sort()).toEqual([...ids].sort());
      for (const o of first.options) expect([...o].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
      expect(first.questions).toEqual(attempt.question_order);
      expect(await seen(tx, attempt.id)).toEqual(first);
      expect((await start(tx, quizId)).question_order).toEqual(attempt.question_order);
      await saveAnswers(tx, attempt.id, { [ids[0]!]: ['a'] });
      expect(await seen(tx, attempt.id)).toEqual(first);
      await submit(tx, attempt.id);
      expect(await seen(tx, attempt.id)).toEqual(first);
      // The options are full objects, in the drawn order.
      const rows = await attemptQuestions(tx, attempt.id);
      expect(rows[0]!.options!.map((o) => o.text)).toEqual(first.options[0]!.map((id) => `Option ${id}`));
    }));

  it('with shuffling, different attempts draw their own orders (3 attempts of 8! orders)', () =>
    db.transaction(async (tx) => {
      const { quizId, ids } = await shuffledQuiz(tx, true);
      const orders: string[][] = [];
      const optionOrders: string[][][] = [];
      for (let i = 0; i < 3; i++) {
        const attempt = await start(tx, quizId);
        const s = await seen(tx, attempt.id);
        expect([...s.questions].sort()).toEqual([...ids].sort());
        orders.push(s.questions);
        optionOrders.push(s.options);
        await submit(tx, attempt.id);
      }
      // All three equal by chance has a probability of (1/40320)^2.
      expect(new Set(orders.map((o) => o.join())).size).toBeGreaterThan(1);
      // And the options of 8 questions, 6 each, likewise.
      expect(new Set(optionOrders.map((o) => JSON.stringify(o))).size).toBeGreaterThan(1);
    }));

  it('without shuffling, questions follow order_index and options their stored order', () =>
    db.transaction(async (tx) => {
      const { quizId, ids } = await shuffledQuiz(tx, false);
      for (let i = 0; i < 2; i++) {
        const attempt = await start(tx, quizId);
        const s = await seen(tx, attempt.id);
        expect(s.questions).toEqual(ids);
        expect(s.options).toEqual(ids.map(() => ['a', 'b', 'c', 'd', 'e', 'f']));
        await submit(tx, attempt.id);
      }
    }));
});
