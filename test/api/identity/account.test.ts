import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { PASSWORD, Q, errorCode, expectGraphqlError, expectOk, liftRateLimits, login, newAccount, refresh, signIn } from './helpers.ts';

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  await liftRateLimits(db);
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
});
afterAll(async () => {
  await api.close();
  await db.close();
});

const changePassword = (token: string, current: string, next: string) => api.graphql(Q.changePassword, { token, variables: { current, next } });

describe('changePassword', () => {
  it('changes the password and ends the other sessions, but not the one that asked', async () => {
    const user = await newAccount(api, 'change');
    const other = await signIn(api, user.email);
    // The calling session has rotated once: the session, not the first token, is what is kept.
    const current = expectOk(await refresh(api, user.refreshToken)).refreshSession;

    expect(expectOk(await changePassword(current.accessToken, PASSWORD, 'my new password 123'))).toEqual({ changePassword: { success: true } });
    expectGraphqlError(await refresh(api, other.refreshToken), 'TKEXP');
    expectOk(await refresh(api, current.refreshToken));

    expectGraphqlError(await login(api, user.email, PASSWORD), 'CREDS');
    await signIn(api, user.email, 'my new password 123');
  });

  it('a wrong current password is CREDS and changes nothing', async () => {
    const user = await newAccount(api, 'change-wrong');
    const other = await signIn(api, user.email);
    expectGraphqlError(await changePassword(user.accessToken, 'not my password', 'my new password 123'), 'CREDS');
    await signIn(api, user.email);
    expectOk(await refresh(api, other.refreshToken));
  });

  it('a weak new password is WEAKP and changes nothing', async () => {
    const user = await newAccount(api, 'change-weak');
    expectGraphqlError(await changePassword(user.accessToken, PASSWORD, 'short'), 'WEAKP');
    await signIn(api, user.email);
  });

  it('wrong current passwords count as failed logins: after 5 the account is locked', async () => {
    const user = await newAccount(api, 'change-lock');
    for (let i = 0; i < 5; i++) expectGraphqlError(await changePassword(user.accessToken, `wrong password ${i}`, 'my new password 123'), 'CREDS');
    expectGraphqlError(await login(api, user.email), 'LOCKD');
    expectGraphqlError(await changePassword(user.accessToken, PASSWORD, 'my new password 123'), 'LOCKD');
  });
});

// The schema describes each of these as "Errors: NOAUT, ..."; NOAUT means "sign in first".
it('signed-in-only mutations answer NOAUT without a token, as the schema documents', async () => {
  const calls = {
    changePassword: api.graphql(Q.changePassword, { variables: { current: PASSWORD, next: 'my new password 123' } }),
    enableMfa: api.graphql(Q.enableMfa),
    confirmMfa: api.graphql(Q.confirmMfa, { variables: { code: '123456' } }),
    disableMfa: api.graphql(Q.disableMfa, { variables: { code: '123456' } }),
  };
  const codes: Record<string, string | undefined> = {};
  for (const [name, call] of Object.entries(calls)) codes[name] = errorCode(await call);
  expect(codes).toEqual({ changePassword: 'NOAUT', enableMfa: 'NOAUT', confirmMfa: 'NOAUT', disableMfa: 'NOAUT' });
});

describe('updateProfile', () => {
  it("changes the signed-in user's name and profile data", async () => {
    const user = await newAccount(api, 'profile');
    const res = await api.graphql(
      'mutation($meta: JSON) { updateProfile(input: {fullName: "  Ada Lovelace ", profileMetadata: $meta}) { user { rowId fullName profileMetadata } } }',
      { token: user.accessToken, variables: { meta: { bio: 'Analyst', links: ['https://example.test'] } } },
    );
    expect(expectOk(res).updateProfile.user).toEqual({
      rowId: user.id,
      fullName: 'Ada Lovelace',
      profileMetadata: { bio: 'Analyst', links: ['https://example.test'] },
    });
    expect(expectOk(await api.graphql(Q.me, { token: user.accessToken })).currentUser.fullName).toBe('Ada Lovelace');
  });

  it('refuses an empty name with INVAL', async () => {
    const user = await newAccount(api, 'profile-empty');
    expectGraphqlError(
      await api.graphql('mutation { updateProfile(input: {fullName: "  ", profileMetadata: {}}) { user { rowId } } }', { token: user.accessToken }),
      'INVAL',
    );
  });

  it('is refused to anonymous callers', async () => {
    const res = await api.graphql('mutation { updateProfile(input: {fullName: "Nobody", profileMetadata: {}}) { user { rowId } } }');
    expect(res.body.data?.updateProfile ?? null).toBeNull();
    expect(res.body.errors).toHaveLength(1);
  });
});
