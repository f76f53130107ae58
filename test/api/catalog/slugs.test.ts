import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { accessToken, startTestApi, type TestApi } from '../../support/api.ts';
import { insertUser } from '../../support/fixtures.ts';

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

const createCourse = 'mutation($t: String!, $s: String) { createCourse(input: {course: {title: $t, slug: $s}}) { course { slug } } }';

async function instructor(): Promise<string> {
  return accessToken(api.config, await insertUser(db.root, { role: 'instructor' }));
}

it("a course titled like another instructor's hidden draft gets a random suffix, and concurrent ones distinct slugs", async () => {
  const [owner, other] = [await instructor(), await instructor()];
  const draft = await api.graphql(createCourse, { variables: { t: 'Quiet Plans' }, token: owner });
  expect(draft.body).toEqual({ data: { createCourse: { course: { slug: 'quiet-plans' } } } });

  const results = await Promise.all([1, 2, 3].map(() => api.graphql(createCourse, { variables: { t: 'Quiet Plans' }, token: other })));
  const slugs = results.map((r) => {
    expect(r.body.errors).toBeUndefined();
    return r.body.data.createCourse.course.slug as string;
  });
  for (const slug of slugs) expect(slug).toMatch(/^quiet-plans-[0-9a-z]{6}$/);
  expect(new Set(slugs).size).toBe(3);
});

it('a requested slug held by a hidden draft is refused as any taken slug is, with 23505', async () => {
  const [owner, other] = [await instructor(), await instructor()];
  await api.graphql(createCourse, { variables: { t: 'Draft', s: 'hush-hush' }, token: owner });
  await api.graphql(createCourse, { variables: { t: 'Mine', s: 'my-own' }, token: other });
  const hidden = await api.graphql(createCourse, { variables: { t: 'Again', s: 'hush-hush' }, token: other });
  const own = await api.graphql(createCourse, { variables: { t: 'Again', s: 'my-own' }, token: other });
  expect(hidden.body.errors?.[0]?.extensions?.code).toBe('23505');
  expect(hidden.body.errors[0].message).toBe(own.body.errors?.[0]?.message);
  expect(own.body.errors[0].extensions.code).toBe('23505');
});
