import { createTestDatabase, type TestDatabase, type TestUser, committedAs } from '../../support/db.ts';
import { testConfig } from '../../support/api.ts';
import { eventually } from '../../support/eventually.ts';
import { startWorker, type Worker } from '../../../worker/runner.ts';
import { addQuestion, grace, ageAttempt, attemptRow, newUser, setupQuiz, type Attempt } from '../../support/quizzes.ts';

// Committed data and a real worker: the job runs in its own transaction.
let db: TestDatabase;
let worker: Worker | undefined;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await worker?.stop();
  await db.close();
});

async function jobFor(attemptId: string) {
  const { rows } = await db.root.query(
    "select id, task_identifier, run_at, attempts, last_error from graphile_worker.jobs where key = 'quiz_attempts__finalize:' || $1",
    [attemptId],
  );
  return rows[0] as { id: string; task_identifier: string; run_at: Date; attempts: number; last_error: string | null } | undefined;
}

/** Makes a queued job due now; the worker finds it at its next poll. */
async function runNow(attemptId: string): Promise<void> {
  const { rowCount } = await db.root.query("update graphile_worker._private_jobs set run_at = now() where key = 'quiz_attempts__finalize:' || $1", [attemptId]);
  expect(rowCount).toBe(1);
}

async function timedAttempt(answersOf: (q: { tf: string; short: string }) => Record<string, unknown>) {
  const setup = await setupQuiz(db.root, { timeLimitMinutes: 1, passingScore: 50 });
  const q = {
    tf: await addQuestion(db.root, setup.quizId, { type: 'true_false', key: { correct: true } }),
    short: await addQuestion(db.root, setup.quizId, { type: 'short_answer', key: { accepted: ['yes'] } }),
  };
  const student: TestUser = await newUser(db.root);
  await committedAs(db.auth, student, (c) => c.query('select lms_public.enroll($1)', [setup.courseId]));
  const attempt = await committedAs(
    db.auth,
    student,
    async (c) => {
      const a = (await c.query<Attempt>('select * from lms_public.start_quiz_attempt($1)', [setup.quizId])).rows[0]!;
      await c.query('select lms_public.save_quiz_answers($1, $2)', [a.id, JSON.stringify(answersOf(q))]);
      return a;
    },
    grace(0),
  );
  return { ...setup, q, student, attempt };
}

it('starting a timed attempt queues quiz_attempts__finalize at deadline + grace; the worker submits it with its saved answers', async () => {
  const { attempt, q } = await timedAttempt((q) => ({ [q.tf]: true, [q.short]: 'nope' }));
  const job = await jobFor(attempt.id);
  expect(job).toMatchObject({ task_identifier: 'quiz_attempts__finalize', attempts: 0 });
  expect(job!.run_at.getTime()).toBe(attempt.deadline_at!.getTime());

  worker = await startWorker(testConfig(db, { LMS_QUIZ_GRACE_SECONDS: '0' }), db.ownerUrl);

  // Run early, it is not due: the job fails and stays queued, and the attempt stays open.
  await runNow(attempt.id);
  const failed = await eventually(
    async () => {
      const j = await jobFor(attempt.id);
      return j && j.attempts > 0 && j.last_error !== null ? j : undefined;
    },
    'the early run to fail',
    15_000,
  );
  expect(failed.last_error).toMatch(/not due yet/);
  expect(await attemptRow(db.root, attempt.id)).toMatchObject({ status: 'in_progress' });

  // Past its deadline, the next run finalises it.
  await ageAttempt(db.root, attempt.id, 61);
  await runNow(attempt.id);
  const done = await eventually(
    async () => {
      const row = await attemptRow(db.root, attempt.id);
      return row.status === 'in_progress' ? undefined : row;
    },
    'the attempt to be finalised',
    15_000,
  );
  expect(done).toMatchObject({
    status: 'graded',
    score: '1.00',
    max_score: '2.00',
    percentage: '50.00',
    is_passed: true,
    answers: { [q.tf]: true, [q.short]: 'nope' },
  });
  expect(done.submitted_at!.getTime()).toBe(done.deadline_at!.getTime());
  await eventually(async () => ((await jobFor(attempt.id)) === undefined ? true : undefined), 'the job to be removed', 15_000);
});

it('the quiz_attempts__finalize_overdue sweep finalises an overdue attempt whose job was lost', async () => {
  const { attempt, q } = await timedAttempt((q) => ({ [q.short]: ' YES ' }));
  await db.root.query("delete from graphile_worker._private_jobs where key = 'quiz_attempts__finalize:' || $1", [attempt.id]);
  await ageAttempt(db.root, attempt.id, 120);
  worker ??= await startWorker(testConfig(db, { LMS_QUIZ_GRACE_SECONDS: '0' }), db.ownerUrl);
  await db.root.query("select graphile_worker.add_job('quiz_attempts__finalize_overdue')");
  const done = await eventually(
    async () => {
      const row = await attemptRow(db.root, attempt.id);
      return row.status === 'in_progress' ? undefined : row;
    },
    'the sweep',
    15_000,
  );
  expect(done).toMatchObject({ status: 'graded', score: '1.00', answers: { [q.short]: ' YES ' } });
});
