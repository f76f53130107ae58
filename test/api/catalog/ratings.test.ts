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
  await api?.close();
  await db?.close();
});

async function ok(query: string, variables: Record<string, unknown>, token?: string) {
  const { status, body } = await api.graphql(query, { variables, token });
  expect({ status, errors: body.errors }).toEqual({ status: 200, errors: undefined });
  return body.data;
}

it("a dropped student's rating leaves the public average and count, and comes back when they enroll again", async () => {
  const teacher = await insertUser(db.root, { role: 'instructor' });
  const course = await insertCourse(db.root, teacher.id, { isPublished: true });
  await db.root.query("insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'Only lesson', 'text')", [course.id]);
  const [harsh, kind] = [await insertUser(db.root), await insertUser(db.root)];
  const rating = async () => (await ok('query($c: UUID!) { course(rowId: $c) { averageRating reviewCount } }', { c: course.id })).course;

  for (const [who, stars] of [
    [harsh, 1],
    [kind, 5],
  ] as const) {
    const token = accessToken(api.config, who);
    const { enroll } = await ok('mutation($c: UUID!) { enroll(input: {courseId: $c}) { enrollment { rowId } } }', { c: course.id }, token);
    await ok(
      'mutation($id: UUID!, $r: Int) { updateEnrollment(input: {rowId: $id, patch: {rating: $r}}) { enrollment { rating } } }',
      {
        id: enroll.enrollment.rowId,
        r: stars,
      },
      token,
    );
  }
  expect(await rating()).toEqual({ averageRating: '3.00', reviewCount: 2 });

  const harshToken = accessToken(api.config, harsh);
  await ok('mutation($c: UUID!) { dropCourse(input: {courseId: $c}) { enrollment { status } } }', { c: course.id }, harshToken);
  expect(await rating()).toEqual({ averageRating: '5.00', reviewCount: 1 });
  await ok('mutation($c: UUID!) { enroll(input: {courseId: $c}) { enrollment { status rating } } }', { c: course.id }, harshToken);
  expect(await rating()).toEqual({ averageRating: '3.00', reviewCount: 2 });
});
