import jwt from 'jsonwebtoken';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { accessToken, freshSigningKey, startTestApi, type TestApi } from '../../support/api.ts';
import { insertUser } from '../../support/fixtures.ts';

let db: TestDatabase;
let api: TestApi;
let student: Awaited<ReturnType<typeof insertUser>>;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db);
  student = await insertUser(db.root, { fullName: 'Amal Student' });
});
afterAll(async () => {
  await api.close();
  await db.close();
});

describe('GraphQL over HTTP', () => {
  it('answers an anonymous query', async () => {
    const { status, body } = await api.graphql('{ currentUser { rowId } courses { totalCount } }');
    expect(status).toBe(200);
    expect(body).toEqual({ data: { currentUser: null, courses: { totalCount: 0 } } });
  });

  it('runs a request as the user of a valid bearer token, under RLS', async () => {
    const { status, body } = await api.graphql('{ currentUser { rowId email fullName role } users { nodes { rowId } } }', {
      token: accessToken(api.config, student),
    });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.currentUser).toEqual({ rowId: student.id, email: student.email, fullName: 'Amal Student', role: 'student' });
    expect(body.data.users.nodes).toEqual([{ rowId: student.id }]);
  });

  it('passes a documented SQLSTATE through as extensions.code, and masks the rest', async () => {
    const token = accessToken(api.config, student);
    const denied = await api.graphql('mutation($id: UUID!) { updateUser(input: { rowId: $id, patch: { fullName: "" } }) { user { rowId } } }', {
      token,
      variables: { id: student.id },
    });
    expect(denied.status).toBe(200);
    expect(denied.body.errors).toBeUndefined();

    const tooLong = await api.graphql(
      'mutation($id: UUID!, $name: String!) { updateUser(input: { rowId: $id, patch: { fullName: $name } }) { user { rowId } } }',
      { token, variables: { id: student.id, name: 'x'.repeat(300) } },
    );
    expect(tooLong.body.errors[0].extensions.code).toBe('22001');
  });
});

describe('bearer tokens', () => {
  const expect401 = async (token: string) => {
    const { status, body } = await api.graphql('{ currentUser { rowId } }', { token });
    expect(status).toBe(401);
    expect(body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'INVALID_TOKEN' } }] });
  };

  it('rejects a token signed with another secret', () =>
    expect401(jwt.sign({ role: 'admin' }, 'x'.repeat(40), { subject: student.id, issuer: 'coursebase', audience: 'coursebase-api', expiresIn: 60 })));

  it('rejects alg none', () =>
    expect401(
      jwt.sign({ role: 'admin', sub: student.id, iss: 'coursebase', aud: 'coursebase-api', exp: Math.floor(Date.now() / 1000) + 60 }, '', {
        algorithm: 'none',
      }),
    ));

  it('rejects an expired token', () => expect401(accessToken(api.config, student, { expiresIn: -60 })));

  it('rejects a token for another audience or issuer', async () => {
    await expect401(accessToken(api.config, student, { audience: 'someone-else' }));
    await expect401(accessToken(api.config, student, { issuer: 'someone-else' }));
  });

  it('rejects an unknown role claim and garbage', async () => {
    await expect401(accessToken(api.config, { id: student.id, role: 'superuser' as 'admin' }));
    await expect401('not-a-jwt');
  });
});

describe('HTTP hygiene', () => {
  it('answers /healthz with 200 while the database answers', async () => {
    const res = await fetch(`${api.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', database: 'up' });
  });

  it('answers /healthz and GraphQL with 503 DATABASE_UNAVAILABLE and Retry-After when the database does not', async () => {
    const down = await startTestApi(db, { authUrl: 'postgres://nobody:nothing@127.0.0.1:9/none' });
    try {
      const res = await fetch(`${down.url}/healthz`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.json()).toEqual({
        status: 'unavailable',
        database: 'down',
        errors: [{ message: 'The database is unavailable; retry shortly.', extensions: { code: 'DATABASE_UNAVAILABLE' } }],
      });
      const graphql = await down.graphql('{ currentUser { rowId } }');
      expect(graphql).toEqual({ status: 503, body: { errors: [{ message: expect.any(String), extensions: { code: 'DATABASE_UNAVAILABLE' } }] } });
    } finally {
      await down.close();
    }
  });

  it('sends security headers and refuses an over-long body with JSON', async () => {
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ currentUser { rowId } } # ${'x'.repeat(200_000)}` }),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await fetch(`${api.url}/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('NOT_FOUND');
  });

  it('serves no GraphiQL in production (test/process/start.test.ts sees it served in development)', async () => {
    const prod = await startTestApi(db, {
      env: {
        NODE_ENV: 'production',
        JWT_SECRET: 'p'.repeat(48),
        LMS_CERT_SIGNING_KEY: freshSigningKey(),
        STRIPE_SECRET_KEY: 'sk_test_p',
        STRIPE_WEBHOOK_SECRET: 'whsec_p',
        LMS_CERT_KEY_ID: 'test-2026',
        LMS_PUBLIC_URL: 'https://learn.example.test',
        LMS_MAIL_TRANSPORT: 'outbox',
      },
    });
    try {
      expect((await fetch(`${prod.url}/graphiql`)).status).toBe(404);
    } finally {
      await prod.close();
    }
  });

  it('allows CORS only from the allowlist', async () => {
    const cors = await startTestApi(db, { env: { LMS_CORS_ORIGINS: 'https://app.example.test' } });
    try {
      const allowed = await fetch(`${cors.url}/graphql`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.test', 'access-control-request-method': 'POST' },
      });
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.test');
      const other = await fetch(`${cors.url}/graphql`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example.test', 'access-control-request-method': 'POST' },
      });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await cors.close();
    }
  });
});
