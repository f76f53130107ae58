import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { rewindLessonClock } from '../../support/fixtures.ts';

let db: TestDatabase;
let api: TestApi;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
  await db.root.query('update lms_private.rate_limits set max_hits = 100000');
});
afterAll(async () => {
  await api.close();
  await db.close();
});

async function ok(query: string, variables: Record<string, unknown> = {}, token?: string) {
  const { status, body } = await api.graphql(query, { variables, token });
  expect({ status, errors: body.errors }).toEqual({ status: 200, errors: undefined });
  return body.data;
}

async function signUp(email: string): Promise<string> {
  await ok('mutation($e: String!) { register(input: {email: $e, password: "a long password", fullName: "Learner"}) { user { rowId } } }', { e: email });
  const data = await ok('mutation($e: String!) { login(input: {email: $e, password: "a long password"}) { accessToken } }', { e: email });
  return data.login.accessToken;
}

it('browse, enroll, progress, complete and review, over HTTP as clients would', async () => {
  // An instructor (promoted by an admin in real life) builds and publishes a course.
  let teacher = await signUp('teacher@example.test');
  await db.root.query("update lms_public.users set role = 'instructor' where email = 'teacher@example.test'");
  teacher = (await ok('mutation { login(input: {email: "teacher@example.test", password: "a long password"}) { accessToken } }')).login.accessToken;

  const course = (
    await ok(
      'mutation { createCourse(input: {course: {title: "Intro to SQL", description: "Tables and rules"}}) { course { rowId slug isPublished instructorName } } }',
      {},
      teacher,
    )
  ).createCourse.course;
  expect(course).toMatchObject({ slug: 'intro-to-sql', isPublished: false, instructorName: 'Learner' });

  const lesson = async (title: string, lessonType: string, extra = '') =>
    (
      await ok(
        `mutation($c: UUID!) { createLesson(input: {lesson: {courseId: $c, title: "${title}", lessonType: "${lessonType}", durationMinutes: 10 ${extra}}}) { lesson { rowId orderIndex } } }`,
        { c: course.rowId },
        teacher,
      )
    ).createLesson.lesson;
  const first = await lesson('Welcome', 'video', ', isPreview: true, videoUrl: "https://video.example/welcome"');
  const second = await lesson('Reading', 'text', ', content: "secret body"');
  expect([first.orderIndex, second.orderIndex]).toEqual([0, 1]);
  await ok('mutation($c: UUID!) { publishCourse(input: {courseId: $c}) { course { isPublished } } }', { c: course.rowId }, teacher);

  // A visitor browses the catalog and the public syllabus; bodies stay hidden but for previews.
  const catalog = await ok(
    '{ courses(condition: {isPublished: true}) { nodes { title syllabus { title lessonType isPreview } } } lessons { nodes { title content videoUrl } } }',
  );
  expect(catalog.courses.nodes).toEqual([
    {
      title: 'Intro to SQL',
      syllabus: [
        { title: 'Welcome', lessonType: 'video', isPreview: true },
        { title: 'Reading', lessonType: 'text', isPreview: false },
      ],
    },
  ]);
  expect(catalog.lessons.nodes).toEqual([{ title: 'Welcome', content: null, videoUrl: 'https://video.example/welcome' }]);

  // A student enrolls, works, completes; the numbers follow at every step.
  const student = await signUp('student@example.test');
  const enrolled = (
    await ok(
      'mutation($c: UUID!) { enroll(input: {courseId: $c}) { enrollment { rowId status totalLessonsCount progressPercentage } } }',
      { c: course.rowId },
      student,
    )
  ).enroll.enrollment;
  expect(enrolled).toMatchObject({ status: 'active', totalLessonsCount: 2, progressPercentage: '0.00' });
  const bodies = await ok('{ lessons(orderBy: ORDER_INDEX_ASC) { nodes { title content } } }', {}, student);
  expect(bodies.lessons.nodes).toEqual([
    { title: 'Welcome', content: null },
    { title: 'Reading', content: 'secret body' },
  ]);

  await ok('mutation($l: UUID!) { startLesson(input: {lessonId: $l}) { lessonProgress { status } } }', { l: first.rowId }, student);
  const beat = await ok(
    'mutation($l: UUID!) { recordLessonProgress(input: {lessonId: $l, positionSeconds: 100000, secondsSpent: 5}) { lessonProgress { lastPositionSeconds } } }',
    { l: first.rowId },
    student,
  );
  expect(beat.recordLessonProgress.lessonProgress.lastPositionSeconds).toBe(600);
  // A seek to the end is not watching: the video completes once 80% of its ten minutes were spent on it.
  const early = await api.graphql('mutation($l: UUID!) { completeLesson(input: {lessonId: $l}) { lessonProgress { status } } }', {
    variables: { l: first.rowId },
    token: student,
  });
  expect(early.body.errors?.[0]?.extensions?.code).toBe('WATCH');
  await rewindLessonClock(db.root, enrolled.rowId, first.rowId, 600);
  await ok(
    'mutation($l: UUID!) { recordLessonProgress(input: {lessonId: $l, positionSeconds: 600, secondsSpent: 600}) { lessonProgress { timeSpentSeconds } } }',
    { l: first.rowId },
    student,
  );
  await ok('mutation($l: UUID!) { completeLesson(input: {lessonId: $l}) { lessonProgress { status } } }', { l: first.rowId }, student);
  let mine = (await ok('{ enrollments { nodes { status progressPercentage completedLessonsCount startedAt } } }', {}, student)).enrollments.nodes;
  expect(mine).toEqual([{ status: 'active', progressPercentage: '50.00', completedLessonsCount: 1, startedAt: expect.any(String) }]);

  await ok('mutation($l: UUID!) { completeLesson(input: {lessonId: $l}) { lessonProgress { status } } }', { l: second.rowId }, student);
  mine = (await ok('{ enrollments { nodes { rowId status progressPercentage completedAt hasNewContent } } }', {}, student)).enrollments.nodes;
  expect(mine).toEqual([{ rowId: enrolled.rowId, status: 'completed', progressPercentage: '100.00', completedAt: expect.any(String), hasNewContent: false }]);

  // Review: the course's public rating follows.
  await ok(
    'mutation($id: UUID!) { updateEnrollment(input: {rowId: $id, patch: {rating: 4, review: "Clear"}}) { enrollment { rating } } }',
    { id: enrolled.rowId },
    student,
  );
  const rated = await ok('{ courses { nodes { averageRating reviewCount } } }');
  expect(rated.courses.nodes).toEqual([{ averageRating: '4.00', reviewCount: 1 }]);

  // New content after completion: the completion stands, the client can tell.
  await lesson('Bonus', 'text');
  mine = (await ok('{ enrollments { nodes { status progressPercentage hasNewContent } } }', {}, student)).enrollments.nodes;
  expect(mine).toEqual([{ status: 'completed', progressPercentage: '66.67', hasNewContent: true }]);

  // The instructor's dashboard in one request, under RLS.
  const teacherId = (await ok('{ currentUser { rowId } }', {}, teacher)).currentUser.rowId;
  const dashboard = await ok(
    `query($me: UUID!) { courses(condition: {instructorId: $me}) {
        nodes { title averageRating enrollments { totalCount aggregates { average { progressPercentage } } groupedAggregates(groupBy: STATUS) { keys distinctCount { rowId } } } } } }`,
    { me: teacherId },
    teacher,
  );
  expect(dashboard.courses.nodes[0]).toMatchObject({
    title: 'Intro to SQL',
    averageRating: '4.00',
    enrollments: { totalCount: 1, groupedAggregates: [{ keys: ['completed'], distinctCount: { rowId: '1' } }] },
  });
  expect(Number(dashboard.courses.nodes[0].enrollments.aggregates.average.progressPercentage)).toBeCloseTo(66.67, 2);
});
