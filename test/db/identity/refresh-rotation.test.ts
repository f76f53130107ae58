import { createTestDatabase, type TestDatabase, type Transaction, committedAs } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';
import { FAST_BCRYPT, eventsOf, jtiOf, login, PASSWORD, refresh } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

interface TokenRow {
  token_jti: string;
  session_id: string;
  revoked_at: Date | null;
  revoked_reason: string | null;
  replaced_by_jti: string | null;
}

async function tokenRows(tx: Transaction, userId: string): Promise<TokenRow[]> {
  await tx.becomeRoot();
  const { rows } = await tx.query<TokenRow>(
    'select token_jti, session_id, revoked_at, revoked_reason, replaced_by_jti from lms_private.refresh_tokens where user_id = $1 order by created_at, token_jti',
    [userId],
  );
  return rows;
}

async function signedIn(tx: Transaction, opts: { ttl?: string; sessionMax?: string } = {}) {
  const user = await insertUser(tx.client);
  await tx.becomeAnonymous();
  const grant = await login(tx, user.email, PASSWORD, opts);
  expect(grant.status).toBe('ok');
  return { user, token: grant.refresh_token!, sessionId: grant.session_id! };
}

describe('lms_private.refresh_session, as lms_anonymous', () => {
  it('rotates: revokes the old token as rotated, pointing at its replacement in the same session', () =>
    db.transaction(async (tx) => {
      const { user, token, sessionId } = await signedIn(tx);
      const next = await refresh(tx, token);
      expect(next).toMatchObject({ status: 'ok', user_id: user.id, role: 'student', session_id: sessionId });
      expect(next.refresh_token).toMatch(/^[0-9a-f]{32}\.[0-9a-f]{64}$/);
      expect(next.refresh_token).not.toBe(token);

      const rows = await tokenRows(tx, user.id);
      const old = rows.find((r) => r.token_jti === jtiOf(token))!;
      const fresh = rows.find((r) => r.token_jti === jtiOf(next.refresh_token!))!;
      expect(rows).toHaveLength(2);
      expect(old).toMatchObject({ revoked_reason: 'rotated', replaced_by_jti: jtiOf(next.refresh_token!), session_id: sessionId });
      expect(old.revoked_at).not.toBeNull();
      expect(fresh).toMatchObject({ revoked_at: null, revoked_reason: null, session_id: sessionId });
    }));

  it("the new token keeps the session's absolute end and never expires after it", () =>
    db.transaction(async (tx) => {
      const { user, token, sessionId } = await signedIn(tx, { ttl: '1 day', sessionMax: '30 days' });
      await tx.becomeRoot();
      // The session is nearly over: an hour left, less than a ttl.
      await tx.query("update lms_private.refresh_tokens set session_expires_at = now() + interval '1 hour' where session_id = $1", [sessionId]);
      await tx.becomeAnonymous();
      const next = await refresh(tx, token, '10 seconds', '1 day');
      expect(next.status).toBe('ok');
      await tx.becomeRoot();
      const { rows } = await tx.query(
        `select expires_at = session_expires_at as capped, session_expires_at = now() + interval '1 hour' as same_end
         from lms_private.refresh_tokens where token_jti = $1`,
        [jtiOf(next.refresh_token!)],
      );
      expect(rows).toEqual([{ capped: true, same_end: true }]);
      // And with plenty of session left, the ttl applies.
      await tx.query("update lms_private.refresh_tokens set session_expires_at = now() + interval '30 days' where user_id = $1", [user.id]);
      await tx.becomeAnonymous();
      const third = await refresh(tx, next.refresh_token!, '10 seconds', '1 day');
      await tx.becomeRoot();
      const later = await tx.query(
        `select expires_at between now() + interval '1 day' - interval '1 minute' and now() + interval '1 day' as ttl_ok, expires_at < session_expires_at as below_cap
         from lms_private.refresh_tokens where token_jti = $1`,
        [jtiOf(third.refresh_token!)],
      );
      expect(later.rows).toEqual([{ ttl_ok: true, below_cap: true }]);
    }));

  it('a token rotated within the reuse interval answers token_rotated and revokes nothing', () =>
    db.transaction(async (tx) => {
      const { user, token } = await signedIn(tx);
      const next = await refresh(tx, token);
      const before = await tokenRows(tx, user.id);
      await tx.becomeAnonymous();
      expect((await refresh(tx, token, '10 seconds')).status).toBe('token_rotated');
      expect(await tokenRows(tx, user.id)).toEqual(before);
      // The newer token still works.
      await tx.becomeAnonymous();
      expect((await refresh(tx, next.refresh_token!)).status).toBe('ok');
    }));

  it('a rotated token presented after the reuse interval is reuse: token_reused, and every live token of the user is revoked', () =>
    db.transaction(async (tx) => {
      const other = await insertUser(tx.client);
      const { user, token, sessionId } = await signedIn(tx);
      const secondSession = await login(tx, user.email, PASSWORD);
      const othersSession = await login(tx, other.email, PASSWORD);
      const next = await refresh(tx, token);

      expect((await refresh(tx, token, '0')).status).toBe('token_reused');

      const rows = await tokenRows(tx, user.id);
      expect(rows.filter((r) => r.revoked_at === null)).toEqual([]);
      expect(rows.find((r) => r.token_jti === jtiOf(next.refresh_token!))?.revoked_reason).toBe('reuse');
      expect(rows.find((r) => r.token_jti === jtiOf(secondSession.refresh_token!))?.revoked_reason).toBe('reuse');
      // The presented token keeps its own history.
      expect(rows.find((r) => r.token_jti === jtiOf(token))?.revoked_reason).toBe('rotated');
      // Someone else's session is untouched.
      const others = await tokenRows(tx, other.id);
      expect(others.map((r) => [r.token_jti, r.revoked_at])).toEqual([[jtiOf(othersSession.refresh_token!), null]]);
      expect(await eventsOf(tx, user.id, 'refresh_token_reused')).toMatchObject([{ details: { session_id: sessionId } }]);

      // The revoked tokens are dead.
      await tx.becomeAnonymous();
      expect((await refresh(tx, next.refresh_token!)).status).toBe('invalid_token');
      expect((await refresh(tx, secondSession.refresh_token!)).status).toBe('invalid_token');
    }));

  it('refuses a wrong secret, a malformed token, or an unknown jti with invalid_token', () =>
    db.transaction(async (tx) => {
      const { user, token } = await signedIn(tx);
      const jti = jtiOf(token);
      for (const bad of [`${jti}.${'0'.repeat(64)}`, `${jti}.`, jti, '', 'nonsense', `${'f'.repeat(32)}.${token.split('.')[1]}`]) {
        expect((await refresh(tx, bad)).status).toBe('invalid_token');
      }
      expect((await tokenRows(tx, user.id)).map((r) => r.revoked_at)).toEqual([null]);
    }));

  it('refuses an expired token with token_expired and does not rotate it', () =>
    db.transaction(async (tx) => {
      const { user, token } = await signedIn(tx);
      await tx.becomeRoot();
      await tx.query("update lms_private.refresh_tokens set expires_at = now() - interval '1 second' where user_id = $1", [user.id]);
      await tx.becomeAnonymous();
      expect((await refresh(tx, token)).status).toBe('token_expired');
      expect((await tokenRows(tx, user.id)).map((r) => r.revoked_at)).toEqual([null]);
    }));

  it("refuses a deactivated user's token with account_disabled and issues nothing", () =>
    db.transaction(async (tx) => {
      const { user, token } = await signedIn(tx);
      await tx.becomeRoot();
      await tx.query('update lms_public.users set is_active = false where id = $1', [user.id]);
      await tx.becomeAnonymous();
      expect((await refresh(tx, token)).status).toBe('account_disabled');
      expect(await tokenRows(tx, user.id)).toHaveLength(1);
    }));

  it('refuses a logged-out token with invalid_token (not as reuse)', () =>
    db.transaction(async (tx) => {
      const { user, token } = await signedIn(tx);
      const second = await login(tx, user.email, PASSWORD);
      await tx.query('select lms_public.logout($1)', [token]);
      expect((await refresh(tx, token, '0')).status).toBe('invalid_token');
      // Not treated as reuse: the other session lives on.
      const rows = await tokenRows(tx, user.id);
      expect(rows.find((r) => r.token_jti === jtiOf(second.refresh_token!))?.revoked_at).toBeNull();
    }));

  it('issues the role the user has now', () =>
    db.transaction(async (tx) => {
      const { user, token } = await signedIn(tx);
      await tx.becomeRoot();
      await tx.query("update lms_public.users set role = 'instructor' where id = $1", [user.id]);
      await tx.becomeAnonymous();
      expect(await refresh(tx, token)).toMatchObject({ status: 'ok', role: 'instructor' });
    }));
});

describe('reuse detection, committed', () => {
  it('the revocation on reuse commits: another connection sees every token of the user revoked', async () => {
    const user = await insertUser(db.root, { email: `reuse-commit-${Date.now()}@example.test` });
    const first = await committedAs(db.auth, { role: 'lms_anonymous' }, (c) => login(c, user.email, PASSWORD), FAST_BCRYPT);
    const second = await committedAs(db.auth, { role: 'lms_anonymous' }, (c) => login(c, user.email, PASSWORD), FAST_BCRYPT);
    const rotated = await committedAs(db.auth, { role: 'lms_anonymous' }, (c) => refresh(c, first.refresh_token!), FAST_BCRYPT);
    expect(rotated.status).toBe('ok');

    expect((await committedAs(db.auth, { role: 'lms_anonymous' }, (c) => refresh(c, first.refresh_token!, '0'), FAST_BCRYPT)).status).toBe('token_reused');

    const { rows } = await db.root.query<{ token_jti: string; revoked_reason: string | null }>(
      'select token_jti, revoked_reason from lms_private.refresh_tokens where user_id = $1',
      [user.id],
    );
    const reasons = Object.fromEntries(rows.map((r) => [r.token_jti, r.revoked_reason]));
    expect(reasons).toEqual({
      [jtiOf(first.refresh_token!)]: 'rotated',
      [jtiOf(second.refresh_token!)]: 'reuse',
      [jtiOf(rotated.refresh_token!)]: 'reuse',
    });
    expect(await eventsOf(db.root, user.id, 'refresh_token_reused')).toHaveLength(1);
  });
});
