import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { insertUser } from '../../support/fixtures.ts';
import {
  Q,
  awaitFreshTotpStep,
  errorCode,
  expectGraphqlError,
  expectOk,
  liftRateLimits,
  login,
  newAccount,
  signIn,
  totp,
  wrongTotp,
  type Session,
} from './helpers.ts';

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

type Account = Awaited<ReturnType<typeof newAccount>>;
const enable = async (token: string) =>
  expectOk(await api.graphql(Q.enableMfa, { token })).enableMfa as { secret: string; otpauthUrl: string; qrCodeDataUrl: string };
const confirm = (token: string, code: string) => api.graphql(Q.confirmMfa, { token, variables: { code } });
const me = async (token: string) => expectOk(await api.graphql(Q.me, { token })).currentUser;

/** Turns MFA on for a new account with the current code; returns the secret and recovery codes. */
async function accountWithMfa(prefix: string): Promise<Account & { secret: string; recoveryCodes: string[] }> {
  const user = await newAccount(api, prefix);
  const { secret } = await enable(user.accessToken);
  const { recoveryCodes } = expectOk(await confirm(user.accessToken, await totp(secret))).confirmMfa;
  return { ...user, secret, recoveryCodes };
}

describe('enableMfa', () => {
  it('returns a base32 secret, an otpauth URL with the secret and issuer, and a PNG QR code; MFA stays off until confirmed', async () => {
    const user = await newAccount(api, 'enroll');
    const { secret, otpauthUrl, qrCodeDataUrl } = await enable(user.accessToken);
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    const url = new URL(otpauthUrl);
    expect(url.protocol).toBe('otpauth:');
    expect(otpauthUrl.startsWith('otpauth://totp/')).toBe(true);
    expect(url.searchParams.get('secret')).toBe(secret);
    expect(url.searchParams.get('issuer')).toBe('Coursebase');
    expect(decodeURIComponent(url.pathname)).toContain(user.email);
    expect(qrCodeDataUrl.startsWith('data:image/png;base64,')).toBe(true);
    const png = Buffer.from(qrCodeDataUrl.slice('data:image/png;base64,'.length), 'base64');
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');

    expect((await me(user.accessToken)).mfaEnabled).toBe(false);
    // A pending enrollment does not yet ask for a code.
    await signIn(api, user.email);
  });

  it('confirmMfa refuses a wrong code (MFABD), and without enableMfa first is INVAL', async () => {
    const user = await newAccount(api, 'confirm-wrong');
    expectGraphqlError(await confirm(user.accessToken, '123456'), 'INVAL');
    const { secret } = await enable(user.accessToken);
    expectGraphqlError(await confirm(user.accessToken, await wrongTotp(secret)), 'MFABD');
    expect((await me(user.accessToken)).mfaEnabled).toBe(false);
  });

  it('a second enableMfa replaces the pending secret: a code from the first no longer confirms', async () => {
    const user = await newAccount(api, 're-enroll');
    const first = await enable(user.accessToken);
    const second = await enable(user.accessToken);
    expect(second.secret).not.toBe(first.secret);
    expectGraphqlError(await confirm(user.accessToken, await totp(first.secret)), 'MFABD');
    expectOk(await confirm(user.accessToken, await totp(second.secret)));
  });
});

describe('an MFA life cycle, step by step', () => {
  let user: Account;
  let secret: string;
  let recoveryCodes: string[];

  beforeAll(async () => {
    user = await newAccount(api, 'cycle');
    // Confirm with the previous step's code, leaving the current step for the login and the
    // next one for disableMfa; start early enough in a step that the server still accepts it.
    await awaitFreshTotpStep(3);
    secret = (await enable(user.accessToken)).secret;
  });

  it('confirmMfa with a code from the authenticator turns MFA on and returns 10 recovery codes', async () => {
    const res = expectOk(await confirm(user.accessToken, await totp(secret, -1))).confirmMfa;
    expect(res.success).toBe(true);
    recoveryCodes = res.recoveryCodes;
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[0-9a-f]{5}-[0-9a-f]{5}$/);
    expect((await me(user.accessToken)).mfaEnabled).toBe(true);
  });

  it('login: wrong password is still CREDS; no code is MFARQ; a wrong code is MFABD', async () => {
    expectGraphqlError(await login(api, user.email, 'not my password'), 'CREDS');
    expectGraphqlError(await login(api, user.email), 'MFARQ');
    expectGraphqlError(await login(api, user.email, undefined, await wrongTotp(secret)), 'MFABD');
  });

  it('the current code signs in once; the same code again is MFABD', async () => {
    const code = await totp(secret);
    const session: Session = expectOk(await login(api, user.email, undefined, code)).login;
    expect((await me(session.accessToken)).rowId).toBe(user.id);
    expectGraphqlError(await login(api, user.email, undefined, code), 'MFABD');
  });

  it('a recovery code signs in once', async () => {
    const [code] = recoveryCodes;
    expectOk(await login(api, user.email, undefined, code));
    expectGraphqlError(await login(api, user.email, undefined, code), 'MFABD');
    // Another one, typed in upper case with spaces around it.
    expectOk(await login(api, user.email, undefined, ` ${recoveryCodes[1]!.toUpperCase()} `));
  });

  it('enableMfa while MFA is on is MFAON', async () => {
    expectGraphqlError(await api.graphql(Q.enableMfa, { token: user.accessToken }), 'MFAON');
  });

  it("disableMfa refuses a wrong code (MFABD), then turns MFA off with the next step's code", async () => {
    expectGraphqlError(await api.graphql(Q.disableMfa, { token: user.accessToken, variables: { code: await wrongTotp(secret) } }), 'MFABD');
    expect((await me(user.accessToken)).mfaEnabled).toBe(true);
    const res = await api.graphql(Q.disableMfa, { token: user.accessToken, variables: { code: await totp(secret, 1) } });
    expect(expectOk(res)).toEqual({ disableMfa: { success: true } });
    expect((await me(user.accessToken)).mfaEnabled).toBe(false);
    await signIn(api, user.email);
    expectGraphqlError(await api.graphql(Q.disableMfa, { token: user.accessToken, variables: { code: '123456' } }), 'MFAOF');
  });
});

describe('single use under concurrency', () => {
  it('one TOTP code sent in two logins at once signs in only once', async () => {
    const user = await accountWithMfa('totp-race');
    const code = await totp(user.secret, 1);
    const results = await Promise.all([login(api, user.email, undefined, code), login(api, user.email, undefined, code)]);
    expect(results.map(errorCode).sort()).toEqual(['MFABD', undefined]);
  });

  it('one recovery code sent in two logins at once signs in only once', async () => {
    const user = await accountWithMfa('recovery-race');
    const [code] = user.recoveryCodes;
    const results = await Promise.all([login(api, user.email, undefined, code), login(api, user.email, undefined, code)]);
    expect(results.map(errorCode).sort()).toEqual(['MFABD', undefined]);
  });
});

describe('MFA and lockout', () => {
  it('wrong MFA codes count as failed logins: after 5 the account is locked, even for a right code', async () => {
    const user = await accountWithMfa('mfa-lock');
    const wrong = await wrongTotp(user.secret);
    for (let i = 0; i < 5; i++) expectGraphqlError(await login(api, user.email, undefined, wrong), 'MFABD');
    expectGraphqlError(await login(api, user.email, undefined, user.recoveryCodes[0]), 'LOCKD');
    const { rows } = await db.root.query('select count(*)::int as n from lms_private.user_lockouts where user_id = $1 and locked_until > now()', [user.id]);
    expect(rows[0].n).toBe(1);
  });

  it('wrong codes sent to disableMfa count as failed logins too', async () => {
    const user = await accountWithMfa('disable-lock');
    const wrong = await wrongTotp(user.secret);
    for (let i = 0; i < 5; i++) {
      expectGraphqlError(await api.graphql(Q.disableMfa, { token: user.accessToken, variables: { code: wrong } }), 'MFABD');
    }
    expectGraphqlError(await login(api, user.email, undefined, user.recoveryCodes[0]), 'LOCKD');
    expectGraphqlError(await api.graphql(Q.disableMfa, { token: user.accessToken, variables: { code: user.recoveryCodes[1] } }), 'LOCKD');
    expect((await me(user.accessToken)).mfaEnabled).toBe(true);
  });
});

describe('resetUserMfa', () => {
  it('an admin turns off the MFA of a user who lost their authenticator', async () => {
    const user = await accountWithMfa('lost-phone');
    const adminRow = await insertUser(db.root, { role: 'admin', password: 'admin password 1234' });
    const admin = await signIn(api, adminRow.email, 'admin password 1234');
    const res = await api.graphql(Q.resetUserMfa, { token: admin.accessToken, variables: { id: user.id } });
    expect(expectOk(res)).toEqual({ resetUserMfa: { user: { rowId: user.id, mfaEnabled: false } } });
    await signIn(api, user.email);
  });

  it("a student cannot reset anyone's MFA, not even their own", async () => {
    const user = await accountWithMfa('self-reset');
    expectGraphqlError(await api.graphql(Q.resetUserMfa, { token: user.accessToken, variables: { id: user.id } }), '42501');
    expectGraphqlError(await login(api, user.email), 'MFARQ');
  });
});
