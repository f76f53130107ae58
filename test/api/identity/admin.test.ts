import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { insertUser } from '../../support/fixtures.ts';
import { Q, claimsOf, errorCode, expectGraphqlError, expectOk, liftRateLimits, login, newAccount, refresh, signIn, type Session } from './helpers.ts';

let db: TestDatabase;
let api: TestApi;
let admin: Session & { id: string };
beforeAll(async () => {
  db = await createTestDatabase();
  await liftRateLimits(db);
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
  const row = await insertUser(db.root, { role: 'admin', password: 'admin password 1234' });
  admin = { id: row.id, ...(await signIn(api, row.email, 'admin password 1234')) };
});
afterAll(async () => {
  await api.close();
  await db.close();
});

const asAdmin = (query: string, variables: Record<string, unknown>) => api.graphql(query, { token: admin.accessToken, variables });

// require_admin() checks current_user = 'lms_admin', but it runs inside SECURITY DEFINER functions,
// where current_user is their owner; this test isolates that from the flows below.
it('an admin may call setUserRole, setUserActive and resetUserMfa (no FRBDN)', async () => {
  const user = await newAccount(api, 'admin-can');
  const results = await Promise.all([
    asAdmin(Q.setUserRole, { id: user.id, role: 'instructor' }),
    asAdmin(Q.setUserActive, { id: user.id, active: true }),
    asAdmin(Q.resetUserMfa, { id: user.id }),
  ]);
  expect(results.map((r) => r.body.errors?.[0] ?? null)).toEqual([null, null, null]);
  expect(results.map((r) => Object.values(r.body.data)[0])).toEqual([
    { user: { rowId: user.id, role: 'instructor' } },
    { user: { rowId: user.id, isActive: true } },
    { user: { rowId: user.id, mfaEnabled: false } },
  ]);
});

describe('setUserActive', () => {
  it('deactivation applies at once: the access token gets 401 ACCOUNT_DISABLED, refresh fails, login is DISBL', async () => {
    const user = await newAccount(api, 'deactivated');
    expectOk(await api.graphql(Q.me, { token: user.accessToken }));

    const res = expectOk(await asAdmin(Q.setUserActive, { id: user.id, active: false }));
    expect(res.setUserActive.user).toEqual({ rowId: user.id, isActive: false });

    const me = await api.graphql(Q.me, { token: user.accessToken });
    expect(me).toEqual({ status: 401, body: { errors: [{ message: expect.any(String), extensions: { code: 'ACCOUNT_DISABLED' } }] } });
    expect(['DISBL', 'TKEXP']).toContain(errorCode(await refresh(api, user.refreshToken)));
    expectGraphqlError(await login(api, user.email), 'DISBL');
  });

  it('reactivation lets the user sign in again, but the sessions ended by deactivation stay ended', async () => {
    const user = await newAccount(api, 'reactivated');
    expectOk(await asAdmin(Q.setUserActive, { id: user.id, active: false }));
    expect(expectOk(await asAdmin(Q.setUserActive, { id: user.id, active: true })).setUserActive.user.isActive).toBe(true);
    expectGraphqlError(await refresh(api, user.refreshToken), 'TKEXP');
    const again = await signIn(api, user.email);
    expect(expectOk(await api.graphql(Q.me, { token: again.accessToken })).currentUser.rowId).toBe(user.id);
    // The old access token is still within its 15 minutes, and the account is active again.
    expect((await api.graphql(Q.me, { token: user.accessToken })).status).toBe(200);
  });

  it('a wrong password for a deactivated account still says CREDS (DISBL only after the right password)', async () => {
    const user = await newAccount(api, 'disabled-wrong');
    expectOk(await asAdmin(Q.setUserActive, { id: user.id, active: false }));
    expectGraphqlError(await login(api, user.email, 'not the password'), 'CREDS');
  });

  it('an admin cannot deactivate themselves (FRBDN); an unknown user is NTFND', async () => {
    expectGraphqlError(await asAdmin(Q.setUserActive, { id: admin.id, active: false }), 'FRBDN');
    expectGraphqlError(await asAdmin(Q.setUserActive, { id: '00000000-0000-4000-8000-000000000000', active: false }), 'NTFND');
    expect((await api.graphql(Q.me, { token: admin.accessToken })).status).toBe(200);
  });
});

describe('setUserRole', () => {
  it('a role change applies to the very next request, even under an access token that names the old role', async () => {
    const user = await newAccount(api, 'promoted');
    expect(claimsOf(user.accessToken).role).toBe('student');
    expect(expectOk(await asAdmin(Q.setUserRole, { id: user.id, role: 'instructor' })).setUserRole.user).toEqual({ rowId: user.id, role: 'instructor' });
    expect(expectOk(await api.graphql(Q.me, { token: user.accessToken })).currentUser.role).toBe('instructor');
    // The next refresh issues a token that names the new role.
    const next = expectOk(await refresh(api, user.refreshToken)).refreshSession;
    expect(claimsOf(next.accessToken).role).toBe('instructor');
  });

  it('the database role follows: a student token of a user made admin reads the audit log; demoted, it cannot', async () => {
    const user = await newAccount(api, 'to-admin');
    expectGraphqlError(await api.graphql(Q.securityEvents, { token: user.accessToken }), '42501');
    expectOk(await asAdmin(Q.setUserRole, { id: user.id, role: 'admin' }));
    expect(expectOk(await api.graphql(Q.securityEvents, { token: user.accessToken })).securityEvents.nodes.length).toBeGreaterThan(0);
    const adminToken = expectOk(await refresh(api, user.refreshToken)).refreshSession.accessToken;
    expect(claimsOf(adminToken).role).toBe('admin');
    expectOk(await asAdmin(Q.setUserRole, { id: user.id, role: 'student' }));
    expectGraphqlError(await api.graphql(Q.securityEvents, { token: adminToken }), '42501');
  });

  it('refuses an unknown role (INVAL), an unknown user (NTFND) and an admin changing their own role (FRBDN)', async () => {
    const user = await newAccount(api, 'bad-role');
    expectGraphqlError(await asAdmin(Q.setUserRole, { id: user.id, role: 'superuser' }), 'INVAL');
    expectGraphqlError(await asAdmin(Q.setUserRole, { id: '00000000-0000-4000-8000-000000000000', role: 'student' }), 'NTFND');
    expectGraphqlError(await asAdmin(Q.setUserRole, { id: admin.id, role: 'student' }), 'FRBDN');
  });
});

describe('admin mutations refuse everyone else', () => {
  it.each(['student', 'instructor'] as const)(
    'the %s caller gets 42501 from setUserRole, setUserActive and resetUserMfa, and nothing changes',
    async (role) => {
      const row = await insertUser(db.root, { role, password: 'caller password 1234' });
      const caller = { id: row.id, ...(await signIn(api, row.email, 'caller password 1234')) };
      const target = await newAccount(api, 'target');
      const as = (query: string, variables: Record<string, unknown>) => api.graphql(query, { token: caller.accessToken, variables });
      expectGraphqlError(await as(Q.setUserRole, { id: caller.id, role: 'admin' }), '42501');
      expectGraphqlError(await as(Q.setUserRole, { id: target.id, role: 'admin' }), '42501');
      expectGraphqlError(await as(Q.setUserActive, { id: target.id, active: false }), '42501');
      expectGraphqlError(await as(Q.resetUserMfa, { id: target.id }), '42501');
      const { rows } = await db.root.query('select id, role, is_active from lms_public.users where id = any($1) order by role', [[caller.id, target.id]]);
      expect(rows.map((r) => [r.role, r.is_active])).toEqual(
        [
          [role, true],
          ['student', true],
        ].sort(),
      );
    },
  );

  it('anonymous callers get 42501 too', async () => {
    const target = await newAccount(api, 'anon-target');
    expectGraphqlError(await api.graphql(Q.setUserRole, { variables: { id: target.id, role: 'admin' } }), '42501');
    expectGraphqlError(await api.graphql(Q.setUserActive, { variables: { id: target.id, active: false } }), '42501');
  });
});
