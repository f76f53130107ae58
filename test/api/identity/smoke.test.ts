import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
});
afterAll(async () => {
  await api.close();
  await db.close();
});

it('registers, logs in, refreshes and reads the current user', async () => {
  const reg = await api.graphql(
    'mutation { register(input: {email: " Ada@Example.test ", password: "correct horse battery", fullName: "Ada"}) { user { rowId email fullName role } } }',
  );
  expect(reg.body.errors).toBeUndefined();
  expect(reg.body.data.register.user).toMatchObject({ email: 'ada@example.test', role: 'student' });
  const login = await api.graphql('mutation { login(input: {email: "ADA@example.test", password: "correct horse battery"}) { accessToken refreshToken } }');
  expect(login.body.errors).toBeUndefined();
  const { accessToken, refreshToken } = login.body.data.login;
  const me = await api.graphql('{ currentUser { email mfaEnabled } }', { token: accessToken });
  expect(me.body.data.currentUser).toEqual({ email: 'ada@example.test', mfaEnabled: false });
  const refreshed = await api.graphql('mutation($t: String!) { refreshSession(input: {refreshToken: $t}) { accessToken refreshToken } }', {
    variables: { t: refreshToken },
  });
  expect(refreshed.body.errors).toBeUndefined();
  const bad = await api.graphql('mutation { login(input: {email: "ada@example.test", password: "wrong password!"}) { accessToken } }');
  expect(bad.body.errors[0].extensions.code).toBe('CREDS');
});
