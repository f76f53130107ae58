import { createTestDatabase, type TestDatabase, type Transaction, asRoot, expectCode } from '../../support/db.ts';
import { addQuestion, ageAttempt, attemptRow, enrollAs, newUser, saveAnswers, setGrace, setupQuiz, start, submit } from '../../support/quizzes.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

async function timedQuiz(tx: Transaction, timeLimitMinutes: number | null = 10) {
  const setup = await setupQuiz(tx, { timeLimitMinutes, maxAttempts: null, passingScore: 50 });
  const tf = await addQuestion(tx, setup.quizId, { type: 'true_false', key: { correct: true } });
  const short = await addQuestion(tx, setup.quizId, { type: 'short_answer', key: { accepted: ['yes'] } });
  const student = await newUser(tx);
  const enrollmentId = await enrollAs(tx, student, setup.courseId);
  return { ...setup, tf, short, student, enrollmentId };
}

function jobOf(tx: Transaction, attemptId: string) {
  return asRoot(
    tx,
    async (q) =>
      (
        await q.query(
          "select j.task_identifier, pj.payload, j.run_at from graphile_worker.jobs j join graphile_worker._private_jobs pj on pj.id = j.id where j.key = 'quiz_attempts__finalize:' || $1",
          [attemptId],
        )
      ).rows,
  );
}

describe('deadlines', () => {
  it('a time limit sets deadline_at = started_at + limit and queues a finalize job at deadline + grace', () =>
    db.transaction(async (tx) => {
      const { quizId } = await timedQuiz(tx, 10);
      await setGrace(tx, 30);
      const attempt = await start(tx, quizId);
      expect(attempt.deadline_at!.getTime() - attempt.started_at.getTime()).toBe(10 * 60_000);
      const jobs = await jobOf(tx, attempt.id);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({ task_identifier: 'quiz_attempts__finalize', payload: { attemptId: attempt.id } });
      expect(jobs[0].run_at.getTime()).toBe(attempt.deadline_at!.getTime() + 30_000);
    }));

  it('without a time limit there is no deadline and no job', () =>
    db.transaction(async (tx) => {
      const { quizId } = await timedQuiz(tx, null);
      const attempt = await start(tx, quizId);
      expect(attempt.deadline_at).toBeNull();
      expect(await jobOf(tx, attempt.id)).toEqual([]);
    }));

  it('saving and submitting within the grace period is accepted', () =>
    db.transaction(async (tx) => {
      const { quizId, tf } = await timedQuiz(tx);
      await setGrace(tx, 30);
      const attempt = await start(tx, quizId);
      // 10 seconds past the deadline, inside a 30-second grace.
      await ageAttempt(tx, attempt.id, 10 * 60 + 10);
      await saveAnswers(tx, attempt.id, { [tf]: true });
      expect(await submit(tx, attempt.id)).toMatchObject({ status: 'graded', score: '1.00' });
    }));

  it('saving or submitting after deadline + grace is refused (ATLAT) and changes nothing', () =>
    db.transaction(async (tx) => {
      const { quizId, tf, short } = await timedQuiz(tx);
      await setGrace(tx, 0);
      const attempt = await start(tx, quizId);
      await saveAnswers(tx, attempt.id, { [tf]: true });
      await ageAttempt(tx, attempt.id, 10 * 60 + 2);
      await expectCode(tx, 'select lms_public.save_quiz_answers($1, $2)', [attempt.id, JSON.stringify({ [short]: 'yes' })], 'ATLAT');
      await expectCode(tx, 'select lms_public.submit_quiz_attempt($1, $2)', [attempt.id, JSON.stringify({ [short]: 'yes' })], 'ATLAT');
      await expectCode(tx, 'select lms_public.submit_quiz_attempt($1, null)', [attempt.id], 'ATLAT');
      expect(await attemptRow(tx, attempt.id)).toMatchObject({ status: 'in_progress', answers: { [tf]: true } });
    }));

  it('the grace period has no default of its own: a transaction without lms.quiz_grace_seconds is refused', () =>
    db.transaction(async (tx) => {
      const { quizId } = await timedQuiz(tx);
      await tx.query("select set_config('lms.quiz_grace_seconds', '', true)");
      await expectCode(tx, 'select lms_public.start_quiz_attempt($1)', [quizId], '42704', /lms\.quiz_grace_seconds is missing/);
    }));

  it('the grace period is 30 seconds in the default configuration, as the API sets it', () =>
    db.transaction(async (tx) => {
      const { quizId, tf } = await timedQuiz(tx);
      const attempt = await start(tx, quizId);
      await ageAttempt(tx, attempt.id, 10 * 60 + 20);
      await saveAnswers(tx, attempt.id, { [tf]: true });
      await ageAttempt(tx, attempt.id, 15);
      await expectCode(tx, 'select lms_public.save_quiz_answers($1, $2)', [attempt.id, JSON.stringify({ [tf]: false })], 'ATLAT');
    }));
});

describe('finalising overdue attempts', () => {
  it('finalize_overdue_attempt: not yet due, then submits and grades with the saved answers, then nothing to do', () =>
    db.transaction(async (tx) => {
      const { quizId, tf, short } = await timedQuiz(tx);
      await setGrace(tx, 0);
      const attempt = await start(tx, quizId);
      await saveAnswers(tx, attempt.id, { [tf]: true, [short]: 'no' });
      const finalize = 'select lms_private.finalize_overdue_attempt($1) as outcome';
      await tx.becomeRoot();
      expect((await tx.query(finalize, [attempt.id])).rows).toEqual([{ outcome: 'not yet due' }]);
      await ageAttempt(tx, attempt.id, 10 * 60 + 5);
      expect((await tx.query(finalize, [attempt.id])).rows).toEqual([{ outcome: 'graded' }]);
      const row = await attemptRow(tx, attempt.id);
      expect(row).toMatchObject({
        status: 'graded',
        score: '1.00',
        max_score: '2.00',
        percentage: '50.00',
        is_passed: true,
        answers: { [tf]: true, [short]: 'no' },
      });
      // Submitted at the deadline (+ grace), and the time taken is the whole limit.
      expect(row.submitted_at!.getTime()).toBe(row.deadline_at!.getTime());
      expect(row.time_taken_seconds).toBe(600);
      expect((await tx.query(finalize, [attempt.id])).rows).toEqual([{ outcome: 'nothing to do' }]);
    }));

  it('finalize_overdue_attempts sweeps every overdue attempt, and only those', () =>
    db.transaction(async (tx) => {
      const { quizId, courseId, tf } = await timedQuiz(tx);
      await setGrace(tx, 0);
      const late: string[] = [];
      for (let i = 0; i < 2; i++) {
        const s = await newUser(tx);
        await enrollAs(tx, s, courseId);
        const a = await start(tx, quizId);
        await saveAnswers(tx, a.id, { [tf]: true });
        late.push(a.id);
      }
      const s3 = await newUser(tx);
      await enrollAs(tx, s3, courseId);
      const onTime = (await start(tx, quizId)).id;
      for (const id of late) await ageAttempt(tx, id, 601);
      await tx.becomeRoot();
      expect((await tx.query('select lms_private.finalize_overdue_attempts() as n')).rows).toEqual([{ n: 2 }]);
      for (const id of late) expect(await attemptRow(tx, id)).toMatchObject({ status: 'graded', score: '1.00' });
      expect(await attemptRow(tx, onTime)).toMatchObject({ status: 'in_progress' });
      expect((await tx.query('select lms_private.finalize_overdue_attempts() as n')).rows).toEqual([{ n: 0 }]);
    }));

  it('starting again while an overdue attempt is open finalises it and starts the next one', () =>
    db.transaction(async (tx) => {
      const { quizId, tf } = await timedQuiz(tx);
      await setGrace(tx, 0);
      const first = await start(tx, quizId);
      await saveAnswers(tx, first.id, { [tf]: true });
      await ageAttempt(tx, first.id, 601);
      const second = await start(tx, quizId);
      expect(second).toMatchObject({ attempt_number: 2, status: 'in_progress' });
      expect(await attemptRow(tx, first.id)).toMatchObject({ status: 'graded', score: '1.00' });
    }));

  it('students cannot call the finalisers (42501)', () =>
    db.transaction(async (tx) => {
      const { quizId } = await timedQuiz(tx);
      const attempt = await start(tx, quizId);
      await expectCode(tx, 'select lms_private.finalize_overdue_attempt($1)', [attempt.id], '42501');
      await expectCode(tx, 'select lms_private.finalize_overdue_attempts()', [], '42501');
    }));
});
