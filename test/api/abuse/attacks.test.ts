// Every attack of the hardening issue, sent at a real production-mode server process while this
// process watches /healthz. Each is refused with a documented code well within a second, and
// the server keeps answering everyone else throughout. The bounds are generous on purpose:
// they guard against the minutes these attacks used to take, not against milliseconds.
import { accessToken } from '../../support/api.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { insertCourse, insertUser } from '../../support/fixtures.ts';
import { MAX_BODY_BYTES } from '../../../src/server/preset.ts';
import { monitorHealth, startProductionServer, type HealthMonitor, type RunningServer } from './server.ts';

const QUICK_MS = 1000;

let db: TestDatabase;
let server: RunningServer;
let health: HealthMonitor;
let studentToken: string;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startProductionServer(db);
  const instructor = await insertUser(db.root, { role: 'instructor' });
  for (let i = 0; i < 3; i++) await insertCourse(db.root, instructor.id, { isPublished: true });
  const student = await insertUser(db.root, { role: 'student' });
  studentToken = accessToken(server.config, student);
  // The first operation builds grafserv's handlers: warm up before measuring.
  expect((await server.post({ query: '{ __typename }' })).status).toBe(200);
  health = await monitorHealth(server.url);
}, 60_000);

afterAll(async () => {
  const report = await health?.stop();
  await server?.stop();
  await db?.close();
  // /healthz answered, and quickly, the whole time the attacks ran.
  expect(report.samples).toBeGreaterThanOrEqual(5);
  expect(report.failures).toEqual([]);
  expect(report.slowestMs).toBeLessThan(200);
});

const codeOf = (body: any): string | undefined => body?.errors?.[0]?.extensions?.code;

/** grafast expanded every sibling spread of a fragment: 2^30 fields from a 1.6 kB document. */
function fragmentFanOut(levels: number): string {
  const fragments = Array.from({ length: levels }, (_, i) =>
    i === levels - 1 ? `fragment F${i} on Query { a: __typename }` : `fragment F${i} on Query { a: __typename ...F${i + 1} ...F${i + 1} }`,
  );
  return `query { ...F0 } ${fragments.join(' ')}`;
}

it('fragment fan-out (30 levels, each spreading the next twice) is refused before planning', async () => {
  const query = fragmentFanOut(30);
  expect(query.length).toBeLessThan(2000);
  const res = await server.post({ query });
  expect(res.ms).toBeLessThan(QUICK_MS);
  expect(res.status).toBe(200);
  expect(codeOf(res.body)).toBe('QUERY_TOO_BROAD');
  expect(res.body.data).toBeUndefined();
});

it('fan-out variants with one alias changed cannot dodge the rule through the plan cache', async () => {
  for (let i = 0; i < 5; i++) {
    const res = await server.post({ query: fragmentFanOut(25).replace('a: __typename', `a${i}: __typename`) });
    expect(res.ms).toBeLessThan(QUICK_MS);
    expect(codeOf(res.body)).toBe('QUERY_TOO_BROAD');
  }
});

it('alias amplification: 3,300 aliased connections (97 kB, under the body limit) stop at the token limit', async () => {
  const query = `query { ${Array.from({ length: 3300 }, (_, i) => `z${i}: courses { totalCount }`).join(' ')} }`;
  expect(query.length).toBeGreaterThan(90_000);
  expect(JSON.stringify({ query }).length).toBeLessThan(MAX_BODY_BYTES);
  const res = await server.post({ query });
  expect(res.ms).toBeLessThan(QUICK_MS);
  expect(res.status).toBe(400);
  expect(codeOf(res.body)).toBe('QUERY_TOO_LARGE');
});

it('alias amplification under the token limit (200 aliases) is refused by the alias limit', async () => {
  const query = `query { ${Array.from({ length: 200 }, (_, i) => `z${i}: courses { totalCount }`).join(' ')} }`;
  const res = await server.post({ query });
  expect(res.ms).toBeLessThan(QUICK_MS);
  expect(codeOf(res.body)).toBe('TOO_MANY_ALIASES');
});

it('relation fan-out seven levels deep by a signed-in student is refused', async () => {
  let selection = 'title';
  for (let i = 0; i < 7; i++) selection = `lessons { nodes { course { ${selection} } } }`;
  const res = await server.post({ query: `query { courses { nodes { ${selection} } } }` }, { authorization: `Bearer ${studentToken}` });
  expect(res.ms).toBeLessThan(QUICK_MS);
  expect(['QUERY_TOO_DEEP', 'QUERY_TOO_COSTLY']).toContain(codeOf(res.body));
});

it('three nested connections within the depth limit are refused by their estimated cost', async () => {
  const res = await server.post(
    { query: 'query { courses { nodes { lessons { nodes { course { lessons { nodes { title } } } } } } } }' },
    { authorization: `Bearer ${studentToken}` },
  );
  expect(codeOf(res.body)).toBe('QUERY_TOO_COSTLY');
});

it('first: 1000000 is refused, as a literal before planning and as a variable when it runs', async () => {
  const literal = await server.post({ query: 'query { courses(first: 1000000) { nodes { title } } }' });
  expect(codeOf(literal.body)).toBe('PAGE_SIZE_TOO_LARGE');
  const variable = await server.post({ query: 'query ($n: Int) { courses(first: $n) { nodes { title } } }', variables: { n: 1_000_000 } });
  expect(codeOf(variable.body)).toBe('PAGE_SIZE_TOO_LARGE');
  expect(variable.body.data?.courses ?? null).toBeNull();
  const negative = await server.post({ query: 'query ($n: Int) { courses(last: $n) { nodes { title } } }', variables: { n: -1 } });
  expect(codeOf(negative.body)).toBe('PAGE_SIZE_TOO_LARGE');
});

it('a connection asked for no page size reads the default page, not the whole table', async () => {
  const instructor = await insertUser(db.root, { role: 'instructor' });
  await db.root.query(
    `insert into lms_public.courses (title, slug, instructor_id, is_published)
     select 'Bulk ' || i, 'bulk-' || i || '-' || $2, $1, true from generate_series(1, 120) i`,
    [instructor.id, process.pid],
  );
  const res = await server.post({ query: 'query { courses { totalCount nodes { title } pageInfo { hasNextPage } } }' });
  expect(res.body.errors).toBeUndefined();
  expect(res.body.data.courses.totalCount).toBeGreaterThan(120);
  expect(res.body.data.courses.nodes).toHaveLength(100);
  expect(res.body.data.courses.pageInfo.hasNextPage).toBe(true);
  const nullFirst = await server.post({ query: 'query ($n: Int) { courses(first: $n) { nodes { title } } }', variables: { n: null } });
  expect(nullFirst.body.data.courses.nodes).toHaveLength(100);
  const last = await server.post({ query: 'query { courses(last: 3) { nodes { title } } }' });
  expect(last.body.data.courses.nodes).toHaveLength(3);
});

it('depth, directive and introspection limits answer with their codes', async () => {
  let deep = 'rowId';
  for (let i = 0; i < 8; i++) deep = `instructor { coursesByInstructorId(first: 1) { nodes { ${deep} } } }`;
  expect(codeOf((await server.post({ query: `query { courses { nodes { ${deep} } } }` })).body)).toBe('QUERY_TOO_DEEP');
  const directives = Array.from({ length: 30 }, () => '@include(if: true)').join(' ');
  expect(codeOf((await server.post({ query: `query { currentUser ${directives} { rowId } }` })).body)).toBe('TOO_MANY_DIRECTIVES');
  expect(codeOf((await server.post({ query: '{ __schema { types { name } } }' })).body)).toBe('INTROSPECTION_DISABLED');
  expect(codeOf((await server.post({ query: '{ __type(name: "Course") { name } }' })).body)).toBe('INTROSPECTION_DISABLED');
  expect((await server.post({ query: '{ __typename }' })).body).toEqual({ data: { __typename: 'Query' } });
});

it('production error messages carry no "Did you mean" suggestions that map the schema', async () => {
  const res = await server.post({ query: '{ coursez { totalCount } }' });
  expect(res.body.errors[0].message).toMatch(/Cannot query field "coursez"/);
  expect(JSON.stringify(res.body)).not.toMatch(/Did you mean/);
});

it('GraphiQL is off in production', async () => {
  expect((await fetch(`${server.url}/graphiql`)).status).toBe(404);
});

it('a NUL or other junk in a certificate path is refused with 400 before any query', async () => {
  for (const path of ['/verify/%00', '/verify/CB-%00-1', '/certificates/%00.pdf', '/certificates/CB%2F..%2Fx.pdf']) {
    const res = await fetch(`${server.url}${path}`);
    expect({ path, status: res.status }).toEqual({ path, status: 400 });
  }
});

it('an unparseable document is a 400 with a code, not a crash', async () => {
  const res = await server.post({ query: 'query { courses { ' });
  expect(res.status).toBe(400);
  expect(codeOf(res.body)).toBe('GRAPHQL_PARSE_FAILED');
});
