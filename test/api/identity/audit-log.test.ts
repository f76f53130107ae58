import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { insertUser } from '../../support/fixtures.ts';
import { PASSWORD, Q, expectGraphqlError, expectOk, liftRateLimits, login, newAccount, refresh, signIn, totp, uniqueEmail, type Session } from './helpers.ts';

let db: TestDatabase;
let api: TestApi;
let strict: TestApi;
let admin: Session & { id: string };
const ADMIN_PASSWORD = 'admin password 1234';
beforeAll(async () => {
  db = await createTestDatabase();
  await liftRateLimits(db);
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
  strict = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4', LMS_REFRESH_REUSE_INTERVAL_SECONDS: '0' } });
  const row = await insertUser(db.root, { role: 'admin', password: ADMIN_PASSWORD });
  admin = { id: row.id, ...(await signIn(api, row.email, ADMIN_PASSWORD)) };
});
afterAll(async () => {
  await strict.close();
  await api.close();
  await db.close();
});

interface AuditEvent {
  rowId: string;
  eventType: string;
  userId: string | null;
  actorId: string | null;
  clientIp: string | null;
  details: Record<string, unknown>;
}
async function auditLog(): Promise<{ events: AuditEvent[]; json: string }> {
  const res = await api.graphql('{ securityEvents(orderBy: ROW_ID_DESC) { nodes { rowId eventType userId actorId clientIp details occurredAt } } }', {
    token: admin.accessToken,
  });
  const data = expectOk(res);
  return { events: data.securityEvents.nodes, json: JSON.stringify(res.body) };
}
const typesFor = (events: AuditEvent[], userId: string) => new Set(events.filter((e) => e.userId === userId).map((e) => e.eventType));

it('records the identity flows of a user, newest first, stamped with the client IP, and without any secret', async () => {
  const secrets: string[] = [PASSWORD, 'the new password 42', 'wrong password 0', ADMIN_PASSWORD];
  const user = await newAccount(api, 'audited');
  secrets.push(user.accessToken, user.refreshToken, user.refreshToken.split('.')[1]!);

  // Lockout: five wrong passwords, then a refused login.
  for (let i = 0; i < 5; i++) expectGraphqlError(await login(api, user.email, `wrong password ${i}`), 'CREDS');
  expectGraphqlError(await login(api, user.email), 'LOCKD');
  await db.root.query('delete from lms_private.user_lockouts where user_id = $1', [user.id]);
  expectGraphqlError(await login(api, uniqueEmail('nobody'), PASSWORD), 'CREDS');

  // Rotation, a rotated token within the interval, then reuse with no interval.
  const session = await signIn(strict, user.email);
  const next = expectOk(await refresh(strict, session.refreshToken)).refreshSession;
  secrets.push(session.refreshToken, next.refreshToken, next.accessToken);
  const viaDefault = await signIn(api, user.email);
  expectOk(await refresh(api, viaDefault.refreshToken));
  expectGraphqlError(await refresh(api, viaDefault.refreshToken), 'TKROT');
  expectGraphqlError(await refresh(strict, session.refreshToken), 'TKRUS');

  // MFA on and off, a password change, a logout.
  const fresh = await signIn(api, user.email);
  const { secret } = expectOk(await api.graphql(Q.enableMfa, { token: fresh.accessToken })).enableMfa;
  const { recoveryCodes } = expectOk(await api.graphql(Q.confirmMfa, { token: fresh.accessToken, variables: { code: await totp(secret) } })).confirmMfa;
  expectOk(await api.graphql(Q.disableMfa, { token: fresh.accessToken, variables: { code: recoveryCodes[0] } }));
  secrets.push(secret, ...recoveryCodes);
  expectOk(await api.graphql(Q.changePassword, { token: fresh.accessToken, variables: { current: PASSWORD, next: 'the new password 42' } }));
  expectOk(await api.graphql(Q.logout, { variables: { t: fresh.refreshToken } }));

  const { events, json } = await auditLog();
  const types = typesFor(events, user.id);
  for (const type of [
    'registered',
    'login_succeeded',
    'login_failed',
    'account_locked',
    'login_refused_locked',
    'refresh_token_already_rotated',
    'refresh_token_reused',
    'mfa_enrollment_started',
    'mfa_enabled',
    'mfa_recovery_code_used',
    'mfa_disabled',
    'password_changed',
    'logout',
  ]) {
    expect({ type, recorded: types.has(type) }).toEqual({ type, recorded: true });
  }
  expect(events.filter((e) => e.userId === user.id && e.eventType === 'login_failed')).toHaveLength(5);
  // The unknown email is recorded without a user.
  expect(events.some((e) => e.eventType === 'login_failed' && e.userId === null && e.details.reason === 'unknown_email')).toBe(true);
  expect(events.find((e) => e.userId === user.id && e.eventType === 'login_succeeded')!.clientIp).toBe('127.0.0.1');
  const ids = events.map((e) => Number(e.rowId));
  expect(ids).toEqual([...ids].sort((x, y) => y - x));

  for (const secret of secrets) expect({ secret, leaked: json.includes(secret) }).toEqual({ secret, leaked: false });
  expect(json).not.toMatch(/\$2[aby]\$/);
});

it("records an admin's role changes and deactivations with the admin as actor", async () => {
  const user = await newAccount(api, 'managed');
  expectOk(await api.graphql(Q.setUserRole, { token: admin.accessToken, variables: { id: user.id, role: 'instructor' } }));
  expectOk(await api.graphql(Q.setUserActive, { token: admin.accessToken, variables: { id: user.id, active: false } }));
  const { events } = await auditLog();
  const mine = events.filter((e) => e.userId === user.id);
  expect(mine.find((e) => e.eventType === 'role_changed')).toMatchObject({ actorId: admin.id, details: { from: 'student', to: 'instructor' } });
  expect(mine.find((e) => e.eventType === 'user_deactivated')).toMatchObject({ actorId: admin.id });
});
