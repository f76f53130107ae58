import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { DEMO_ACCOUNTS, seedDemo } from '../../src/db/seed.ts';

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

it('seeds once, with every role, two published courses and lessons of every type and nesting', async () => {
  expect(await seedDemo(db.ownerUrl, 4, { onlyIfEmpty: true })).toBe(true);
  expect(await seedDemo(db.ownerUrl, 4, { onlyIfEmpty: false })).toBe(false);

  const { rows: roles } = await db.root.query('select role, count(*)::int as n from lms_public.users group by role order by role');
  expect(roles).toEqual([
    { role: 'admin', n: 1 },
    { role: 'instructor', n: 1 },
    { role: 'student', n: 2 },
  ]);
  const { rows: courses } = await db.root.query(
    `select c.is_published, array_agg(distinct l.lesson_type order by l.lesson_type) as types,
            bool_or(l.parent_lesson_id is not null) as nested
     from lms_public.courses c join lms_public.lessons l on l.course_id = c.id group by c.id, c.is_published`,
  );
  expect(courses).toHaveLength(2);
  expect(courses.every((c) => c.is_published && c.nested)).toBe(true);
  expect([...new Set(courses.flatMap((c) => c.types))].sort()).toEqual(['assignment', 'quiz', 'text', 'video']);
  const { rows: completed } = await db.root.query("select status, progress_percentage from lms_public.enrollments where status = 'completed'");
  expect(completed).toEqual([{ status: 'completed', progress_percentage: '100.00' }]);
});

it('leaves a database that already has users alone on first start', async () => {
  expect(await seedDemo(db.ownerUrl, 4, { onlyIfEmpty: true })).toBe(false);
});

it('the documented demo accounts sign in over the API', async () => {
  for (const account of DEMO_ACCOUNTS) {
    const { body } = await api.graphql('mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }', {
      variables: { e: account.email, p: account.password },
    });
    expect(body.errors).toBeUndefined();
  }
});

it('the demo student can take the graded demo quiz, without seeing its key', async () => {
  const login = await api.graphql('mutation { login(input: {email: "omar@demo.coursebase.test", password: "demo-student-password"}) { accessToken } }');
  const token = login.body.data.login.accessToken;
  const { rows } = await db.root.query("select q.id from lms_public.quizzes q where q.title = 'Final check'");
  const { body } = await api.graphql(
    'mutation($q: UUID!) { startQuizAttempt(input: {quizId: $q}) { attempt { attemptNumber questions { questionType correctAnswer explanation } } } }',
    {
      variables: { q: rows[0].id },
      token,
    },
  );
  expect(body.errors).toBeUndefined();
  expect(body.data.startQuizAttempt.attempt.attemptNumber).toBe(1);
  expect(body.data.startQuizAttempt.attempt.questions.map((q: any) => [q.questionType, q.correctAnswer, q.explanation]).sort()).toEqual([
    ['essay', null, null],
    ['multiple_choice', null, null],
    ['short_answer', null, null],
  ]);
});
