import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { accessToken, startTestApi, type TestApi } from '../../support/api.ts';
import { insertCourse, insertUser } from '../../support/fixtures.ts';

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db);
});
afterAll(async () => {
  await api.close();
  await db.close();
});

const codeOf = (res: { body: any }) => res.body.errors?.[0]?.extensions?.code;

// Against a certificate earned by calling completeLesson on every lesson without watching any.
it("completeLesson on an unwatched video is WATCH until the instructor lowers the course's minVideoWatchPercent", async () => {
  const teacher = await insertUser(db.root, { role: 'instructor' });
  const student = await insertUser(db.root);
  const c = await insertCourse(db.root, teacher.id, { isPublished: true });
  const { rows } = await db.root.query(
    "insert into lms_public.lessons (course_id, title, lesson_type, duration_minutes) values ($1, 'Talk', 'video', 20) returning id",
    [c.id],
  );
  const [teacherToken, studentToken] = [accessToken(api.config, teacher), accessToken(api.config, student)];
  const completeLesson = 'mutation($l: UUID!) { completeLesson(input: {lessonId: $l}) { lessonProgress { status } } }';

  expect(
    codeOf(
      await api.graphql('mutation($c: UUID!) { enroll(input: {courseId: $c}) { enrollment { status } } }', { variables: { c: c.id }, token: studentToken }),
    ),
  ).toBeUndefined();
  const refused = await api.graphql(completeLesson, { variables: { l: rows[0].id }, token: studentToken });
  expect(codeOf(refused)).toBe('WATCH');
  expect(refused.body.errors[0].message).toMatch(/^watch at least 80% of this video first/);

  const setPercent =
    'mutation($c: UUID!, $p: Int!) { updateCourse(input: {rowId: $c, patch: {minVideoWatchPercent: $p}}) { course { minVideoWatchPercent } } }';
  const byStudent = await api.graphql(setPercent, { variables: { c: c.id, p: 0 }, token: studentToken });
  expect(codeOf(byStudent)).toBe('42501');
  const set = await api.graphql(setPercent, { variables: { c: c.id, p: 0 }, token: teacherToken });
  expect(set.body).toEqual({ data: { updateCourse: { course: { minVideoWatchPercent: 0 } } } });
  const done = await api.graphql(completeLesson, { variables: { l: rows[0].id }, token: studentToken });
  expect(done.body).toEqual({ data: { completeLesson: { lessonProgress: { status: 'completed' } } } });
});
