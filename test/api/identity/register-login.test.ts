import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { PASSWORD, Q, claimsOf, errorCode, expectGraphqlError, expectOk, liftRateLimits, login, register, signIn, uniqueEmail } from './helpers.ts';

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

async function userCount(email: string): Promise<number> {
  const { rows } = await db.root.query('select count(*)::int as n from lms_public.users where email = $1', [email]);
  return rows[0].n;
}

describe('register', () => {
  it('creates an unverified student with a normalised email, and no role or flags from the client', async () => {
    const email = uniqueEmail('grace');
    const reg = expectOk(await register(api, `  ${email.toUpperCase()} `, PASSWORD, '  Grace Hopper '));
    expect(reg.register.user).toEqual({ rowId: expect.any(String), email, fullName: 'Grace Hopper', role: 'student' });
    const session = await signIn(api, email);
    const me = expectOk(await api.graphql(Q.me, { token: session.accessToken })).currentUser;
    expect(me).toEqual({ rowId: reg.register.user.rowId, email, fullName: 'Grace Hopper', role: 'student', mfaEnabled: false, emailVerifiedAt: null });
  });

  it.each([
    ['9 characters', 'short1234'],
    ['over 72 bytes', 'é'.repeat(37)],
  ])('refuses a weak password (%s) with WEAKP and creates nothing', async (_label, password) => {
    const email = uniqueEmail('weak');
    expectGraphqlError(await register(api, email, password), 'WEAKP');
    expect(await userCount(email)).toBe(0);
  });

  it('accepts a password of exactly 10 characters and of exactly 72 bytes', async () => {
    expectOk(await register(api, uniqueEmail('ten'), 'abcdefghij'));
    const email = uniqueEmail('seventy-two');
    expectOk(await register(api, email, 'é'.repeat(36)));
    expect(claimsOf((await signIn(api, email, 'é'.repeat(36))).accessToken).role).toBe('student');
  });

  it('refuses an email that is taken in another case with EMTKN', async () => {
    const email = uniqueEmail('taken');
    expectOk(await register(api, email));
    expectGraphqlError(await register(api, ` ${email.toUpperCase()}`, 'another good password'), 'EMTKN');
    expect(await userCount(email)).toBe(1);
    // The first password still works: the second registration changed nothing.
    await signIn(api, email);
  });

  it('two simultaneous registrations of one email: exactly one succeeds, the other is EMTKN', async () => {
    const email = uniqueEmail('race');
    const results = await Promise.all([register(api, email, PASSWORD, 'First'), register(api, email.toUpperCase(), PASSWORD, 'Second')]);
    expect(results.map(errorCode).sort()).toEqual(['EMTKN', undefined]);
    expect(await userCount(email)).toBe(1);
  });

  it('refuses an invalid email or an empty name with INVAL', async () => {
    expectGraphqlError(await register(api, 'not-an-email'), 'INVAL');
    expectGraphqlError(await register(api, uniqueEmail('noname'), PASSWORD, '   '), 'INVAL');
  });
});

describe('login', () => {
  it('returns a 15-minute HS256 access token for the user and an opaque refresh token', async () => {
    const email = uniqueEmail('tok');
    const id = expectOk(await register(api, email)).register.user.rowId;
    const { accessToken, refreshToken } = await signIn(api, email.toUpperCase());
    const claims = claimsOf(accessToken);
    expect(claims).toMatchObject({ sub: id, role: 'student', iss: 'coursebase', aud: 'coursebase-api', sid: expect.any(String) });
    expect(claims.exp - claims.iat).toBe(15 * 60);
    expect(JSON.parse(Buffer.from(accessToken.split('.')[0]!, 'base64url').toString()).alg).toBe('HS256');
    expect(refreshToken).toMatch(/^[0-9a-f]{32}\.[0-9a-f]{64}$/);
    expect(expectOk(await api.graphql(Q.me, { token: accessToken })).currentUser.rowId).toBe(id);
  });

  it('answers an unknown email and a wrong password identically (status, code, message)', async () => {
    const email = uniqueEmail('enum');
    expectOk(await register(api, email));
    const unknown = await login(api, uniqueEmail('nobody'), PASSWORD);
    const wrong = await login(api, email, 'wrong password!!');
    expect(errorCode(unknown)).toBe('CREDS');
    // Same query text and variables shape, so even locations and path must match.
    expect(wrong).toEqual(unknown);
    expect(wrong.body).toEqual({
      data: { login: null },
      errors: [{ message: expect.any(String), locations: expect.any(Array), path: ['login'], extensions: { code: 'CREDS' } }],
    });
  });

  it('answers a missing password like a wrong one', async () => {
    const email = uniqueEmail('empty');
    expectOk(await register(api, email));
    expectGraphqlError(await login(api, email, ''), 'CREDS');
  });

  it('anonymous currentUser is null', async () => {
    expect(expectOk(await api.graphql(Q.me))).toEqual({ currentUser: null });
  });
});

describe('lockout', () => {
  it('locks the account after 5 wrong passwords: the right one then gets LOCKD, and the lock is stored', async () => {
    const email = uniqueEmail('lock');
    const id = expectOk(await register(api, email)).register.user.rowId;
    for (let i = 0; i < 5; i++) expectGraphqlError(await login(api, email, `wrong password ${i}`), 'CREDS');
    expectGraphqlError(await login(api, email), 'LOCKD');
    const { rows } = await db.root.query(
      "select locked_until - now() as remaining, locked_until > now() + interval '14 minutes' as long_enough from lms_private.user_lockouts where user_id = $1",
      [id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].long_enough).toBe(true);
    // While locked, a wrong password says LOCKD too, not CREDS.
    expectGraphqlError(await login(api, email, 'still wrong pw'), 'LOCKD');
  });

  it('wrong passwords sent at the same time all count: the account ends up locked', async () => {
    const email = uniqueEmail('lock-race');
    expectOk(await register(api, email));
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => login(api, email, `wrong password ${i}`)));
    expect(results.map(errorCode).every((c) => c === 'CREDS' || c === 'LOCKD')).toBe(true);
    expectGraphqlError(await login(api, email), 'LOCKD');
  });

  it('does not lock after 4 failures, and a successful login starts the count again', async () => {
    const email = uniqueEmail('nolock');
    expectOk(await register(api, email));
    for (let i = 0; i < 4; i++) expectGraphqlError(await login(api, email, `wrong password ${i}`), 'CREDS');
    await signIn(api, email);
    for (let i = 0; i < 4; i++) expectGraphqlError(await login(api, email, `wrong password ${i}`), 'CREDS');
    await signIn(api, email);
  });

  it('a lockout of one account does not affect another', async () => {
    const locked = uniqueEmail('locked');
    const other = uniqueEmail('other');
    expectOk(await register(api, locked));
    expectOk(await register(api, other));
    for (let i = 0; i < 5; i++) await login(api, locked, `wrong password ${i}`);
    expectGraphqlError(await login(api, locked), 'LOCKD');
    await signIn(api, other);
  });
});
