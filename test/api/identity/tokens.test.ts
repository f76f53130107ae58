import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { accessToken, startTestApi, type TestApi } from '../../support/api.ts';
import { Q, claimsOf, expectGraphqlError, expectOk, liftRateLimits, login, newAccount, refresh } from './helpers.ts';

let db: TestDatabase;
let api: TestApi;
let user: Awaited<ReturnType<typeof newAccount>>;
beforeAll(async () => {
  db = await createTestDatabase();
  await liftRateLimits(db);
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
  user = await newAccount(api, 'tokens');
});
afterAll(async () => {
  await api.close();
  await db.close();
});

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function expect401(token: string, code: 'INVALID_TOKEN' | 'ACCOUNT_DISABLED'): Promise<void> {
  const res = await api.graphql(Q.me, { token });
  expect(res).toEqual({ status: 401, body: { errors: [{ message: expect.any(String), extensions: { code } }] } });
}

describe('access tokens refused with HTTP 401 before GraphQL runs', () => {
  const asUser = () => ({ id: user.id, role: 'student' as const });
  const now = () => Math.floor(Date.now() / 1000);

  it('accepts the token that login issued', async () => {
    expect(expectOk(await api.graphql(Q.me, { token: user.accessToken })).currentUser.rowId).toBe(user.id);
  });

  it('refuses a token signed with another secret', async () => {
    await expect401(accessToken({ ...api.config, jwtSecret: 'x'.repeat(48) }, asUser()), 'INVALID_TOKEN');
  });

  it('refuses alg: none, with or without a signature part', async () => {
    const claims = { sub: user.id, role: 'student', iss: api.config.jwtIssuer, aud: api.config.jwtAudience, iat: now(), exp: now() + 600 };
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    await expect401(unsigned, 'INVALID_TOKEN');
    // The real signature, under a header that claims none.
    await expect401(`${b64({ alg: 'none', typ: 'JWT' })}.${user.accessToken.split('.').slice(1).join('.')}`, 'INVALID_TOKEN');
  });

  it('refuses another HMAC algorithm with the right secret', async () => {
    await expect401(accessToken(api.config, asUser(), { algorithm: 'HS512' }), 'INVALID_TOKEN');
  });

  it('refuses an expired token', async () => {
    const expired = jwt.sign({ role: 'student', exp: now() - 60 }, api.config.jwtSecret, {
      algorithm: 'HS256',
      subject: user.id,
      issuer: api.config.jwtIssuer,
      audience: api.config.jwtAudience,
    });
    await expect401(expired, 'INVALID_TOKEN');
  });

  it('refuses another audience or issuer', async () => {
    await expect401(accessToken(api.config, asUser(), { audience: 'someone-else' }), 'INVALID_TOKEN');
    await expect401(accessToken(api.config, asUser(), { issuer: 'someone-else' }), 'INVALID_TOKEN');
  });

  it('refuses a token without an expiry, or with an unknown role or a bad subject', async () => {
    const sign = (payload: object) =>
      jwt.sign(payload, api.config.jwtSecret, { algorithm: 'HS256', issuer: api.config.jwtIssuer, audience: api.config.jwtAudience });
    await expect401(sign({ sub: user.id, role: 'student' }), 'INVALID_TOKEN');
    await expect401(sign({ sub: user.id, role: 'superuser', exp: now() + 600 }), 'INVALID_TOKEN');
    await expect401(sign({ sub: 'not-a-uuid', role: 'student', exp: now() + 600 }), 'INVALID_TOKEN');
  });

  it('refuses a tampered payload (role raised to admin under the original signature)', async () => {
    const [header, , signature] = user.accessToken.split('.');
    const tampered = `${header}.${b64({ ...claimsOf(user.accessToken), role: 'admin' })}.${signature}`;
    await expect401(tampered, 'INVALID_TOKEN');
  });

  it('refuses a malformed bearer header', async () => {
    await expect401('not-a-jwt', 'INVALID_TOKEN');
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Basic ${user.accessToken}` },
      body: JSON.stringify({ query: Q.me }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'INVALID_TOKEN' } }] });
  });

  it('answers ACCOUNT_DISABLED for a well-signed token whose user does not exist', async () => {
    await expect401(accessToken(api.config, { id: randomUUID(), role: 'student' }), 'ACCOUNT_DISABLED');
  });
});

// The middleware re-reads the account per request; these change it as root, so that this rule
// is checked apart from the admin mutations (admin.test.ts drives those over HTTP).
describe('the account behind a valid access token is re-read on every request', () => {
  it('a deactivated account gets 401 ACCOUNT_DISABLED on the next request and DISBL on refresh and login; active again it is let in', async () => {
    const other = await newAccount(api, 'db-deactivated');
    await db.root.query('update lms_public.users set is_active = false where id = $1', [other.id]);
    await expect401(other.accessToken, 'ACCOUNT_DISABLED');
    // Its refresh tokens were not revoked this way, so refresh itself must check the account.
    expectGraphqlError(await refresh(api, other.refreshToken), 'DISBL');
    expectGraphqlError(await login(api, other.email), 'DISBL');
    await db.root.query('update lms_public.users set is_active = true where id = $1', [other.id]);
    expect((await api.graphql(Q.me, { token: other.accessToken })).status).toBe(200);
  });

  it('the database role wins over the claim: student-claim tokens of an admin run as admin, admin-claim tokens of a student as student', async () => {
    const other = await newAccount(api, 'db-role');
    expect((await api.graphql(Q.securityEvents, { token: other.accessToken })).body.errors[0].extensions.code).toBe('42501');
    await db.root.query("update lms_public.users set role = 'admin' where id = $1", [other.id]);
    const res = await api.graphql(`{ currentUser { role } ${Q.securityEvents.slice(1, -1)} }`, { token: other.accessToken });
    expect(expectOk(res).currentUser.role).toBe('admin');
    const forged = accessToken(api.config, { id: user.id, role: 'admin' });
    expect((await api.graphql(Q.securityEvents, { token: forged })).body.errors[0].extensions.code).toBe('42501');
  });
});
