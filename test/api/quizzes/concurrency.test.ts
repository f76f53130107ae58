import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { scenario } from './helpers.ts';

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
});
afterAll(async () => {
  await api.close();
  await db.close();
});

it('50 concurrent startQuizAttempt requests: all HTTP 200 without errors, one attempt for all', async () => {
  const sc = await scenario(db, api, { maxAttempts: null, timeLimitMinutes: 30 });
  const responses = await Promise.all(
    Array.from({ length: 50 }, () =>
      api.graphql('mutation($q: UUID!) { startQuizAttempt(input: {quizId: $q}) { attempt { rowId attemptNumber status } } }', {
        variables: { q: sc.quizId },
        token: sc.s,
      }),
    ),
  );
  expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
  expect(responses.flatMap((r) => r.body.errors ?? [])).toEqual([]);
  const attempts = new Set(responses.map((r) => JSON.stringify(r.body.data.startQuizAttempt.attempt)));
  expect(attempts.size).toBe(1);
  expect(JSON.parse([...attempts][0]!)).toMatchObject({ attemptNumber: 1, status: 'in_progress' });

  const { rows } = await db.root.query('select attempt_number, status from lms_public.quiz_attempts where quiz_id = $1', [sc.quizId]);
  expect(rows).toEqual([{ attempt_number: 1, status: 'in_progress' }]);
  const jobs = await db.root.query("select count(*)::int as n from graphile_worker.jobs where task_identifier = 'quiz_attempts__finalize'");
  expect(jobs.rows).toEqual([{ n: 1 }]);
});
