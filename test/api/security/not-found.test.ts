import { randomUUID } from 'node:crypto';
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

async function enrolled(courseId: string) {
  const student = await insertUser(db.root);
  const { rows } = await db.root.query<{ id: string }>('insert into lms_public.enrollments (student_id, course_id) values ($1, $2) returning id', [
    student.id,
    courseId,
  ]);
  return { student, enrollmentId: rows[0]!.id };
}

const UPDATE_ENROLLMENT = `mutation($id: UUID!, $rating: Int) {
  updateEnrollment(input: {rowId: $id, patch: {rating: $rating}, clientMutationId: "m1"}) { clientMutationId enrollment { rowId rating } } }`;

describe('generated update and delete mutations that match no row answer NTFND', () => {
  it("updateEnrollment on another student's enrollment, or on none, is NTFND and changes nothing", async () => {
    const teacher = await insertUser(db.root, { role: 'instructor' });
    const course = await insertCourse(db.root, teacher.id, { isPublished: true });
    const a = await enrolled(course.id);
    const b = await enrolled(course.id);

    for (const id of [b.enrollmentId, randomUUID()]) {
      const { status, body } = await api.graphql(UPDATE_ENROLLMENT, { variables: { id, rating: 1 }, token: accessToken(api.config, a.student) });
      expect(status).toBe(200);
      expect(body.data).toEqual({ updateEnrollment: null });
      expect(body.errors).toEqual([expect.objectContaining({ path: ['updateEnrollment'], extensions: { code: 'NTFND' } })]);
    }
    const { rows } = await db.root.query('select rating from lms_public.enrollments where id = $1', [b.enrollmentId]);
    expect(rows[0].rating).toBeNull();

    // The holder's own update still answers with the row and the clientMutationId.
    const own = await api.graphql(UPDATE_ENROLLMENT, { variables: { id: a.enrollmentId, rating: 4 }, token: accessToken(api.config, a.student) });
    expect(own.body).toEqual({ data: { updateEnrollment: { clientMutationId: 'm1', enrollment: { rowId: a.enrollmentId, rating: 4 } } } });
  });

  it("deleteCourse on another instructor's course is NTFND and deletes nothing; on one's own it deletes", async () => {
    const owner = await insertUser(db.root, { role: 'instructor' });
    const other = await insertUser(db.root, { role: 'instructor' });
    const course = await insertCourse(db.root, owner.id);
    const remove = (token: string) =>
      api.graphql('mutation($id: UUID!) { deleteCourse(input: {rowId: $id}) { course { rowId } } }', { variables: { id: course.id }, token });

    const refused = await remove(accessToken(api.config, other));
    expect(refused.body.data).toEqual({ deleteCourse: null });
    expect(refused.body.errors?.map((e: any) => e.extensions.code)).toEqual(['NTFND']);
    expect((await db.root.query('select 1 from lms_public.courses where id = $1', [course.id])).rowCount).toBe(1);

    const done = await remove(accessToken(api.config, owner));
    expect(done.body).toEqual({ data: { deleteCourse: { course: { rowId: course.id } } } });
  });

  it('updateUser by a student on somebody else is NTFND', async () => {
    const me = await insertUser(db.root);
    const someone = await insertUser(db.root, { fullName: 'Unchanged Name' });
    const { body } = await api.graphql('mutation($id: UUID!) { updateUser(input: {rowId: $id, patch: {fullName: "Hijacked"}}) { user { rowId } } }', {
      variables: { id: someone.id },
      token: accessToken(api.config, me),
    });
    expect(body.errors?.map((e: any) => e.extensions.code)).toEqual(['NTFND']);
    expect((await db.root.query('select full_name from lms_public.users where id = $1', [someone.id])).rows[0].full_name).toBe('Unchanged Name');
  });
});
