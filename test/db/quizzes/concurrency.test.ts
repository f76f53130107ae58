import pg from 'pg';
import { createTestDatabase, type TestDatabase, type TestUser, committedAs } from '../../support/db.ts';
import { addQuestion, grace, newUser, setupQuiz, tolerateForcedDrop } from '../../support/quizzes.ts';

// Committed transactions on separate connections, as the API would run them.
let db: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.authUrl, max: 20 });
  tolerateForcedDrop(pool);
});
afterAll(async () => {
  await pool.end();
  await db.close();
});

async function enrolledStudent(quiz: { courseId: string }): Promise<TestUser> {
  const s = await newUser(db.root);
  await committedAs(db.auth, s, (c) => c.query('select lms_public.enroll($1)', [quiz.courseId]));
  return s;
}

/** One start in its own committed transaction, exactly as specified for the API. */
async function startOnce(student: TestUser, quizId: string): Promise<{ id: string; attempt_number: number }> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query('set local role lms_student');
    // As the API sets them: the user, and the grace period (SQL has no default).
    await client.query("select set_config('jwt.claims.user_id', $1, true), set_config('lms.quiz_grace_seconds', '30', true)", [student.id]);
    const { rows } = await client.query('select * from lms_public.start_quiz_attempt($1)', [quizId]);
    await client.query('commit');
    return rows[0];
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

function attemptsOf(student: TestUser, quizId: string) {
  return db.root
    .query(
      `select a.attempt_number, a.status from lms_public.quiz_attempts a join lms_public.enrollments e on e.id = a.enrollment_id
       where e.student_id = $1 and a.quiz_id = $2 order by a.attempt_number`,
      [student.id, quizId],
    )
    .then((r) => r.rows as Array<{ attempt_number: number; status: string }>);
}

function errorCodes(results: PromiseSettledResult<unknown>[]): string[] {
  return results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason?.code ?? r.reason));
}

it('50 concurrent starts by one student: no error at all, one attempt in progress, returned to every caller', async () => {
  const quiz = await setupQuiz(db.root, { maxAttempts: null });
  await addQuestion(db.root, quiz.quizId, { type: 'true_false', key: { correct: true } });
  const student = await enrolledStudent(quiz);

  const results = await Promise.allSettled(Array.from({ length: 50 }, () => startOnce(student, quiz.quizId)));
  expect(errorCodes(results)).toEqual([]);
  const ids = new Set(results.map((r) => (r as PromiseFulfilledResult<{ id: string }>).value.id));
  expect(ids.size).toBe(1);
  expect(await attemptsOf(student, quiz.quizId)).toEqual([{ attempt_number: 1, status: 'in_progress' }]);
});

it('50 concurrent starts of a timed quiz queue a single finalize job', async () => {
  const quiz = await setupQuiz(db.root, { maxAttempts: null, timeLimitMinutes: 5 });
  await addQuestion(db.root, quiz.quizId, { type: 'true_false', key: { correct: true } });
  const student = await enrolledStudent(quiz);
  const results = await Promise.allSettled(Array.from({ length: 50 }, () => startOnce(student, quiz.quizId)));
  expect(errorCodes(results)).toEqual([]);
  const attempts = await attemptsOf(student, quiz.quizId);
  expect(attempts).toEqual([{ attempt_number: 1, status: 'in_progress' }]);
  const jobs = await db.root.query(
    `select count(*)::int as n from graphile_worker.jobs j where j.task_identifier = 'quiz_attempts__finalize'
       and j.key in (select 'quiz_attempts__finalize:' || a.id from lms_public.quiz_attempts a where a.quiz_id = $1)`,
    [quiz.quizId],
  );
  expect(jobs.rows).toEqual([{ n: 1 }]);
});

it('start/submit cycles from 20 parallel clients: numbers are exactly 1..n and only ATDON races occur', async () => {
  const quiz = await setupQuiz(db.root, { maxAttempts: null });
  const tf = await addQuestion(db.root, quiz.quizId, { type: 'true_false', key: { correct: true } });
  const student = await enrolledStudent(quiz);

  const unexpected: string[] = [];
  const client = async () => {
    for (let i = 0; i < 5; i++) {
      try {
        const a = await startOnce(student, quiz.quizId);
        await committedAs(pool, student, (c) => c.query('select lms_public.submit_quiz_attempt($1, $2)', [a.id, JSON.stringify({ [tf]: i % 2 === 0 })]));
      } catch (error) {
        // Two clients may be handed the same open attempt; the second submit is ATDON by design.
        const code = (error as { code?: string }).code;
        if (code !== 'ATDON') unexpected.push(`${code}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 20 }, client));
  expect(unexpected).toEqual([]);

  const attempts = await attemptsOf(student, quiz.quizId);
  expect(attempts.length).toBeGreaterThan(1);
  expect(attempts.map((a) => a.attempt_number)).toEqual(attempts.map((_, i) => i + 1));
  expect(attempts.filter((a) => a.status === 'in_progress').length).toBeLessThanOrEqual(1);
  // The lesson's attempt count matches the attempts made.
  const { rows } = await db.root.query(
    `select p.attempts_count from lms_public.lesson_progress p join lms_public.enrollments e on e.id = p.enrollment_id
     where e.student_id = $1 and p.lesson_id = $2`,
    [student.id, quiz.lessonId],
  );
  expect(rows).toEqual([{ attempts_count: attempts.length }]);
});

it('concurrent starts with max_attempts 3 between submissions never exceed 3 attempts (ATMAX only)', async () => {
  const quiz = await setupQuiz(db.root, { maxAttempts: 3 });
  const tf = await addQuestion(db.root, quiz.quizId, { type: 'true_false', key: { correct: true } });
  const student = await enrolledStudent(quiz);
  const unexpected: string[] = [];
  const client = async () => {
    for (let i = 0; i < 3; i++) {
      try {
        const a = await startOnce(student, quiz.quizId);
        await committedAs(pool, student, (c) => c.query('select lms_public.submit_quiz_attempt($1, $2)', [a.id, JSON.stringify({ [tf]: false })]));
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== 'ATDON' && code !== 'ATMAX') unexpected.push(`${code}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 15 }, client));
  expect(unexpected).toEqual([]);
  expect((await attemptsOf(student, quiz.quizId)).map((a) => a.attempt_number)).toEqual([1, 2, 3]);
});

it("a student's start and the worker's finalisation of the same overdue attempt queue, without a deadlock", async () => {
  // Both lock the enrollment, then the attempt (lms_private.lock_attempt); before migration 000009
  // the finalisation took the attempt first and the two deadlocked.
  const quiz = await setupQuiz(db.root, { maxAttempts: null, timeLimitMinutes: 1 });
  const tf = await addQuestion(db.root, quiz.quizId, { type: 'true_false', key: { correct: true } });
  const student = await enrolledStudent(quiz);
  const attempt = await committedAs(
    pool,
    student,
    async (c) => (await c.query('select id from lms_public.start_quiz_attempt($1)', [quiz.quizId])).rows[0],
    grace(0),
  );
  await committedAs(pool, student, (c) => c.query('select lms_public.save_quiz_answers($1, $2)', [attempt.id, JSON.stringify({ [tf]: true })]));
  await db.root.query(
    "update lms_public.quiz_attempts set started_at = started_at - interval '2 minutes', deadline_at = deadline_at - interval '2 minutes' where id = $1",
    [attempt.id],
  );

  const worker = await db.root.connect();
  const studentClient = await pool.connect();
  try {
    // The worker's transaction, as the task runs it, with its first lock taken: the enrollment's.
    await worker.query('begin');
    await worker.query("select set_config('lms.quiz_grace_seconds', '0', true)");
    await worker.query(
      'select 1 from lms_public.enrollments e join lms_public.quiz_attempts a on a.enrollment_id = e.id where a.id = $1 for no key update of e',
      [attempt.id],
    );

    await studentClient.query('begin');
    await studentClient.query('set local role lms_student');
    await studentClient.query("select set_config('jwt.claims.user_id', $1, true), set_config('lms.quiz_grace_seconds', '0', true)", [student.id]);
    const pid = (await studentClient.query('select pg_backend_pid() as pid')).rows[0].pid;
    const starting = studentClient.query('select * from lms_public.start_quiz_attempt($1)', [quiz.quizId]).then(
      async (r) => (await studentClient.query('commit'), r.rows[0]),
      async (e) => (await studentClient.query('rollback'), e),
    );
    // Wait until the start is blocked on the enrollment's lock.
    for (let i = 0; i < 100; i++) {
      const { rows } = await db.root.query('select wait_event_type from pg_stat_activity where pid = $1', [pid]);
      if (rows[0]?.wait_event_type === 'Lock') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const finalising = worker.query('select lms_private.finalize_overdue_attempt($1) as outcome', [attempt.id]).then(
      async (r) => (await worker.query('commit'), r.rows[0]),
      async (e) => (await worker.query('rollback'), e),
    );
    const [started, finalised] = await Promise.all([starting, finalising]);
    const code = (x: unknown) => (x instanceof Error ? ((x as { code?: string }).code ?? x.message) : null);
    expect({ start: code(started), finalize: code(finalised) }).toEqual({ start: null, finalize: null });
    expect(finalised).toEqual({ outcome: 'graded' });
    expect(started).toMatchObject({ attempt_number: 2, status: 'in_progress' });
  } finally {
    worker.release();
    studentClient.release();
  }
});
