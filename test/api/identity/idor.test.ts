import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { insertUser } from '../../support/fixtures.ts';
import { Q, errorCode, expectGraphqlError, expectOk, liftRateLimits, newAccount, refresh, signIn } from './helpers.ts';

let db: TestDatabase;
let api: TestApi;
let a: Awaited<ReturnType<typeof newAccount>>;
let b: Awaited<ReturnType<typeof newAccount>>;
beforeAll(async () => {
  db = await createTestDatabase();
  await liftRateLimits(db);
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
  a = await newAccount(api, 'student-a');
  b = await newAccount(api, 'student-b');
});
afterAll(async () => {
  await api.close();
  await db.close();
});

const asA = (query: string, variables?: Record<string, unknown>) => api.graphql(query, { token: a.accessToken, variables });
/** The global Node ID of a user, built the way the API builds them (from A's own). */
const nodeIdOf = async (rowId: string) => {
  const own = expectOk(await asA('{ currentUser { id } }')).currentUser.id as string;
  return Buffer.from(Buffer.from(own, 'base64').toString().replace(a.id, rowId)).toString('base64');
};
const rowOf = async (id: string) =>
  (await db.root.query('select full_name, profile_metadata, role, is_active, mfa_enabled, email from lms_public.users where id = $1', [id])).rows[0];

describe("student A cannot read student B's account", () => {
  it("users lists only A, with A's own email", async () => {
    const res = expectOk(await asA('{ users { totalCount nodes { rowId email } } }'));
    expect(res.users).toEqual({ totalCount: 1, nodes: [{ rowId: a.id, email: a.email }] });
  });

  it('user(rowId: B), userByEmail(B) and userById(B) are null', async () => {
    const res = expectOk(
      await asA(
        'query($id: UUID!, $email: String!, $node: ID!) { user(rowId: $id) { rowId } userByEmail(email: $email) { rowId } userById(id: $node) { rowId } }',
        {
          id: b.id,
          email: b.email,
          node: await nodeIdOf(b.id),
        },
      ),
    );
    expect(res).toEqual({ user: null, userByEmail: null, userById: null });
    // The Node ID is built right: A's own resolves.
    expect(expectOk(await asA('query($node: ID!) { userById(id: $node) { rowId } }', { node: await nodeIdOf(a.id) })).userById).toEqual({ rowId: a.id });
  });

  it('filters and conditions cannot probe for B either', async () => {
    const res = expectOk(
      await asA(
        'query($email: String!) { users(filter: {email: {startsWith: "student-b"}}) { totalCount } byCond: users(condition: {email: $email}) { totalCount } }',
        { email: b.email },
      ),
    );
    expect(res).toEqual({ users: { totalCount: 0 }, byCond: { totalCount: 0 } });
  });

  it("A's email is visible to A only: B and anonymous cannot find A by id or by email", async () => {
    const query = 'query($id: UUID!, $email: String!) { user(rowId: $id) { email } userByEmail(email: $email) { email } }';
    const variables = { id: a.id, email: a.email };
    expect(expectOk(await api.graphql(query, { token: b.accessToken, variables }))).toEqual({ user: null, userByEmail: null });
    expect(expectOk(await api.graphql(query, { variables }))).toEqual({ user: null, userByEmail: null });
    expect(expectOk(await asA(query, variables))).toEqual({ user: { email: a.email }, userByEmail: { email: a.email } });
  });

  it('anonymous sees no user at all', async () => {
    expect(expectOk(await api.graphql('{ users { totalCount } }'))).toEqual({ users: { totalCount: 0 } });
  });

  it('an instructor sees only their own row too', async () => {
    const row = await insertUser(db.root, { role: 'instructor', password: 'instructor password 1' });
    const session = await signIn(api, row.email, 'instructor password 1');
    const res = expectOk(await api.graphql('{ users { nodes { rowId } } }', { token: session.accessToken }));
    expect(res.users.nodes).toEqual([{ rowId: row.id }]);
  });
});

describe("student A cannot change student B's account", () => {
  it('updateUser, updateUserByEmail and updateUserById on B change nothing', async () => {
    const before = await rowOf(b.id);
    const patch = { fullName: 'Owned by A', profileMetadata: { owned: true } };
    const results = [
      await asA('mutation($id: UUID!, $patch: UserPatch!) { updateUser(input: {rowId: $id, patch: $patch}) { user { rowId fullName } } }', { id: b.id, patch }),
      await asA('mutation($email: String!, $patch: UserPatch!) { updateUserByEmail(input: {email: $email, patch: $patch}) { user { rowId fullName } } }', {
        email: b.email,
        patch,
      }),
      await asA('mutation($node: ID!, $patch: UserPatch!) { updateUserById(input: {id: $node, patch: $patch}) { user { rowId fullName } } }', {
        node: await nodeIdOf(b.id),
        patch,
      }),
    ];
    for (const res of results) {
      expect(res.status).toBe(200);
      // Either an error or a null user: never B's row.
      expect(JSON.stringify(res.body)).not.toContain(b.id);
      expect(JSON.stringify(res.body)).not.toContain('Owned by A');
    }
    expect(await rowOf(b.id)).toEqual(before);
  });

  it('the patch has no role, isActive, mfaEnabled, email or emailVerifiedAt: sending one is a validation error', async () => {
    const before = await rowOf(a.id);
    for (const field of ['role: "admin"', 'isActive: false', 'mfaEnabled: false', 'email: "x@example.test"', 'emailVerifiedAt: "2020-01-01T00:00:00Z"']) {
      const res = await asA(`mutation($id: UUID!) { updateUser(input: {rowId: $id, patch: {${field}}}) { user { rowId role } } }`, { id: a.id });
      expect(res.body.data).toBeUndefined();
      expect(res.body.errors[0].message).toMatch(/is not defined by type "UserPatch"/);
    }
    expect(await rowOf(a.id)).toEqual(before);
  });

  it('A may change their own name and profile through updateUser', async () => {
    const res = expectOk(
      await asA('mutation($id: UUID!) { updateUser(input: {rowId: $id, patch: {fullName: "A Renamed"}}) { user { rowId fullName role } } }', { id: a.id }),
    );
    expect(res.updateUser.user).toEqual({ rowId: a.id, fullName: 'A Renamed', role: 'student' });
  });

  it("A cannot end B's session: logout needs B's refresh token itself", async () => {
    const [jti] = b.refreshToken.split('.');
    for (const guess of [jti!, `${jti}.`, `${jti}.${'0'.repeat(64)}`, b.id]) {
      expect(expectOk(await asA('mutation($t: String!) { logout(input: {refreshToken: $t}) { success } }', { t: guess }))).toEqual({
        logout: { success: true },
      });
    }
    // logoutEverywhere ends only the caller's own sessions.
    const aSecond = await signIn(api, a.email);
    expectOk(await api.graphql(Q.logoutEverywhere, { token: aSecond.accessToken }));
    const next = expectOk(await refresh(api, b.refreshToken)).refreshSession;
    b = { ...b, ...next };
  });
});

describe('the audit log is for admins only', () => {
  it("securityEvents, securityEvent and a user's nested securityEvents are refused to a student", async () => {
    expectGraphqlError(await asA(Q.securityEvents), '42501');
    expectGraphqlError(await asA('{ securityEvent(rowId: "1") { eventType } }'), '42501');
    const nested = await asA('{ currentUser { securityEvents { nodes { eventType } } } }');
    expect(errorCode(nested)).toBe('42501');
    expect(nested.body.data?.currentUser ?? null).toBeNull();
  });

  it('anonymous gets the same refusal', async () => {
    expectGraphqlError(await api.graphql(Q.securityEvents), '42501');
  });
});
