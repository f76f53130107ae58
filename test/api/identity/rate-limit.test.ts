import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { PASSWORD, Q, errorCode, expectOk, login, newAccount, refresh, register, uniqueEmail, type GqlResult } from './helpers.ts';

// The default limits, as migrated: login 30 per 5 minutes per client IP, and so on.
let db: TestDatabase;
let api: TestApi;
let user: Awaited<ReturnType<typeof newAccount>>;
beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
  user = await newAccount(api, 'limited');
});
afterAll(async () => {
  await api.close();
  await db.close();
});

const RATE_LIMITED = { status: 429, body: { errors: [{ message: expect.any(String), extensions: { code: 'RATE_LIMITED' } }] } };

/** Starts each test from no hits, with enough of the fixed window left that it cannot roll over mid-test. */
async function freshWindow(action: string): Promise<void> {
  const { rows } = await db.root.query(
    "select extract(epoch from date_bin(per, now(), timestamptz '2000-01-01') + per - now())::float8 as left from lms_private.rate_limits where action = $1",
    [action],
  );
  if (rows[0].left < 10) await new Promise((r) => setTimeout(r, rows[0].left * 1000 + 200));
  await db.root.query('delete from lms_private.rate_limit_hits');
}

async function hits(action: string): Promise<number> {
  const { rows } = await db.root.query('select coalesce(sum(hits), 0)::int as n from lms_private.rate_limit_hits where action = $1', [action]);
  return rows[0].n;
}

const loginArgs = (email: string, password = 'wrong password!') => `input: {email: ${JSON.stringify(email)}, password: ${JSON.stringify(password)}}`;
const failedLogin = () => login(api, uniqueEmail('nobody'), 'wrong password!');

async function post(body: string, contentType: string, token?: string): Promise<GqlResult> {
  const res = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': contentType, accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  return { status: res.status, body: await res.json() };
}

describe('login', () => {
  it('allows 30 attempts from one client in the window, then answers HTTP 429 RATE_LIMITED, even for the right password', async () => {
    await freshWindow('login');
    for (let i = 0; i < 29; i++) expect(errorCode(await failedLogin())).toBe('CREDS');
    expectOk(await login(api, user.email));
    expect(await failedLogin()).toEqual(RATE_LIMITED);
    expect(await login(api, user.email)).toEqual(RATE_LIMITED);
  });

  it('operations that are not limited still work for the limited client', async () => {
    await freshWindow('login');
    for (let i = 0; i < 31; i++) await failedLogin();
    expect(await failedLogin()).toEqual(RATE_LIMITED);

    expect(expectOk(await api.graphql(Q.me))).toEqual({ currentUser: null });
    expect(expectOk(await api.graphql(Q.me, { token: user.accessToken })).currentUser.rowId).toBe(user.id);
    const next = expectOk(await refresh(api, user.refreshToken)).refreshSession;
    user = { ...user, ...next };
    // A query that aliases a field as "login" is not the login mutation.
    expectOk(await api.graphql('{ login: currentUser { rowId } }'));
    // Nor is the other operation of a document that also holds a login.
    const document = `mutation Attempt { login(${loginArgs('x@example.test')}) { accessToken } } query Who { currentUser { rowId } }`;
    expect(await post(JSON.stringify({ query: document, operationName: 'Who' }), 'application/json')).toEqual({
      status: 200,
      body: { data: { currentUser: null } },
    });
    expect(await post(JSON.stringify({ query: document, operationName: 'Attempt' }), 'application/json')).toEqual(RATE_LIMITED);
    // Another limited action has its own budget.
    expectOk(await register(api, uniqueEmail('still-registers')));
  });

  it('counts each aliased login of one request, and a login hidden behind an alias or a fragment', async () => {
    await freshWindow('login');
    const aliased = (n: number, from: number) =>
      `mutation { ${Array.from({ length: n }, (_, i) => `a${from + i}: login(${loginArgs(uniqueEmail('alias'))}) { accessToken }`).join(' ')} }`;
    expect((await api.graphql(aliased(10, 0))).status).toBe(200);
    expect(await hits('login')).toBe(10);
    expect((await api.graphql(`mutation { signIn: login(${loginArgs('x@example.test')}) { accessToken } }`)).status).toBe(200);
    expect((await api.graphql(`mutation { ...F } fragment F on Mutation { viaFragment: login(${loginArgs('y@example.test')}) { accessToken } }`)).status).toBe(
      200,
    );
    expect(await hits('login')).toBe(12);
    expect((await api.graphql(aliased(18, 10))).status).toBe(200);
    expect(await hits('login')).toBe(30);
    expect(await api.graphql(aliased(1, 99))).toEqual(RATE_LIMITED);
  });

  it('one request that aliases login 31 times is refused whole: none of its logins runs', async () => {
    await freshWindow('login');
    const before = await db.root.query("select count(*)::int as n from lms_private.security_events where event_type = 'login_succeeded'");
    const many = `mutation { ${Array.from({ length: 31 }, (_, i) => `a${i}: login(${loginArgs(user.email, PASSWORD)}) { accessToken }`).join(' ')} }`;
    expect(await api.graphql(many)).toEqual(RATE_LIMITED);
    const after = await db.root.query("select count(*)::int as n from lms_private.security_events where event_type = 'login_succeeded'");
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('a batched (array) request cannot carry logins past the limiter', async () => {
    await freshWindow('login');
    const batch = JSON.stringify(Array.from({ length: 40 }, () => ({ query: `mutation { login(${loginArgs(user.email, PASSWORD)}) { accessToken } }` })));
    const res = await post(batch, 'application/json');
    expect(res.status).not.toBe(200);
    expect(JSON.stringify(res.body)).not.toContain('accessToken');
  });

  // The limiter reads the JSON body; any other content type is refused before GraphQL runs.
  it('a login sent as Content-Type application/graphql is refused (415), so it cannot bypass the limiter', async () => {
    await freshWindow('login');
    for (let i = 0; i < 30; i++) await failedLogin();
    expect(await login(api, user.email)).toEqual(RATE_LIMITED);
    const res = await post(`mutation { login(${loginArgs(user.email, PASSWORD)}) { accessToken } }`, 'application/graphql');
    expect(res.status).toBe(415);
    expect(JSON.stringify(res.body)).not.toContain('accessToken');
  });
});

describe('the other limited mutations', () => {
  const requestReset = () =>
    api.graphql('mutation($e: String!) { requestPasswordReset(input: {email: $e}) { success } }', { variables: { e: uniqueEmail('reset') } });
  const resetPassword = () => api.graphql('mutation { resetPassword(input: {token: "nope", newPassword: "a strong password"}) { success } }');
  const verifyEmail = () => api.graphql('mutation { verifyEmail(input: {token: "nope"}) { success } }');
  const resend = () => api.graphql('mutation { resendVerificationEmail(input: {}) { success } }', { token: user.accessToken });
  const registerOne = () => register(api, uniqueEmail('reg'));

  it.each([
    ['register', 10, registerOne],
    ['requestPasswordReset', 5, requestReset],
    ['resetPassword', 10, resetPassword],
    ['resendVerificationEmail', 5, resend],
    ['verifyEmail', 20, verifyEmail],
  ] as const)('%s: %i requests pass, the next is HTTP 429', async (action, max, send) => {
    await freshWindow(action);
    for (let i = 0; i < max; i++) expect((await send()).status).toBe(200);
    expect(await send()).toEqual(RATE_LIMITED);
    expect(await hits(action)).toBe(max + 1);
  });
});
