import { createTestDatabase, type TestDatabase, type Transaction, expectCode } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';
import { eventsOf, fastBcrypt, jtiOf, login, PASSWORD, refresh } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

async function reasons(tx: Transaction, userId: string): Promise<Record<string, string | null>> {
  await tx.becomeRoot();
  const { rows } = await tx.query<{ token_jti: string; revoked_reason: string | null }>(
    'select token_jti, revoked_reason from lms_private.refresh_tokens where user_id = $1',
    [userId],
  );
  return Object.fromEntries(rows.map((r) => [r.token_jti, r.revoked_reason]));
}

describe('lms_public.logout', () => {
  it('revokes exactly the token presented, as logout, and answers true', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      const a = await login(tx, user.email, PASSWORD);
      const b = await login(tx, user.email, PASSWORD);
      expect((await tx.query('select lms_public.logout($1) as ok', [a.refresh_token])).rows[0].ok).toBe(true);
      expect(await reasons(tx, user.id)).toEqual({ [jtiOf(a.refresh_token!)]: 'logout', [jtiOf(b.refresh_token!)]: null });
      await tx.becomeAnonymous();
      expect((await refresh(tx, a.refresh_token!)).status).toBe('invalid_token');
      expect((await refresh(tx, b.refresh_token!)).status).toBe('ok');
    }));

  it('answers true for unknown, malformed, wrong-secret and already-revoked tokens, revealing nothing', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      const a = await login(tx, user.email, PASSWORD);
      const wrongSecret = `${jtiOf(a.refresh_token!)}.${'0'.repeat(64)}`;
      for (const token of ['nonsense', '', null, wrongSecret]) {
        expect((await tx.query('select lms_public.logout($1) as ok', [token])).rows[0].ok).toBe(true);
      }
      // A wrong secret did not log the real token out.
      expect(await reasons(tx, user.id)).toEqual({ [jtiOf(a.refresh_token!)]: null });
      await tx.becomeAnonymous();
      await tx.query('select lms_public.logout($1)', [a.refresh_token]);
      expect((await tx.query('select lms_public.logout($1) as ok', [a.refresh_token])).rows[0].ok).toBe(true);
    }));

  it('a rotated token cannot be logged out again (its reason stays rotated)', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      const a = await login(tx, user.email, PASSWORD);
      const b = await refresh(tx, a.refresh_token!);
      await tx.query('select lms_public.logout($1)', [a.refresh_token]);
      expect(await reasons(tx, user.id)).toEqual({ [jtiOf(a.refresh_token!)]: 'rotated', [jtiOf(b.refresh_token!)]: null });
    }));
});

describe('lms_public.logout_everywhere', () => {
  it('revokes every live token of the signed-in user, and only theirs', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const other = await insertUser(tx.client);
      await tx.becomeAnonymous();
      const a = await login(tx, user.email, PASSWORD);
      const b = await login(tx, user.email, PASSWORD);
      const rotatedFrom = await login(tx, user.email, PASSWORD);
      const c = await refresh(tx, rotatedFrom.refresh_token!);
      const theirs = await login(tx, other.email, PASSWORD);
      await tx.becomeUser(user);
      expect((await tx.query('select lms_public.logout_everywhere() as ok')).rows[0].ok).toBe(true);
      expect(await reasons(tx, user.id)).toEqual({
        [jtiOf(a.refresh_token!)]: 'logout_all',
        [jtiOf(b.refresh_token!)]: 'logout_all',
        [jtiOf(rotatedFrom.refresh_token!)]: 'rotated',
        [jtiOf(c.refresh_token!)]: 'logout_all',
      });
      expect(await reasons(tx, other.id)).toEqual({ [jtiOf(theirs.refresh_token!)]: null });
    }));

  it('answers NOAUT to lms_anonymous and to a visitor role without a user claim', () =>
    db.transaction(async (tx) => {
      await tx.becomeAnonymous();
      await expectCode(tx, 'select lms_public.logout_everywhere()', [], 'NOAUT');
      await tx.query("set local role lms_student; select set_config('jwt.claims.user_id', '', true)");
      await expectCode(tx, 'select lms_public.logout_everywhere()', [], 'NOAUT');
    }));
});

describe('lms_private.change_password', () => {
  it('answers invalid_credentials for a wrong current password, refuses a weak new one (WEAKP), changing nothing', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      const session = await login(tx, user.email, PASSWORD);
      await tx.becomeUser(user);
      expect((await tx.query('select lms_private.change_password($1, $2) as s', ['not my password', 'a brand new password'])).rows[0].s).toBe(
        'invalid_credentials',
      );
      await expectCode(tx, 'select lms_private.change_password($1, $2)', [PASSWORD, 'short'], 'WEAKP');
      await expectCode(tx, 'select lms_private.change_password($1, $2)', [PASSWORD, 'é'.repeat(37)], 'WEAKP');
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, PASSWORD)).status).toBe('ok');
      expect(await reasons(tx, user.id)).toMatchObject({ [jtiOf(session.refresh_token!)]: null });
    }));

  it('changes the password and revokes the other sessions, keeping the one named by jwt.claims.session_id', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const other = await insertUser(tx.client);
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      const current = await login(tx, user.email, PASSWORD);
      const rotatedFrom = await login(tx, user.email, PASSWORD);
      const elsewhere = await refresh(tx, rotatedFrom.refresh_token!);
      const theirs = await login(tx, other.email, PASSWORD);

      await tx.becomeUser(user);
      await tx.query("select set_config('jwt.claims.session_id', $1, true)", [current.session_id]);
      expect((await tx.query('select lms_private.change_password($1, $2) as s', [PASSWORD, 'a brand new password'])).rows[0].s).toBe('ok');

      expect(await reasons(tx, user.id)).toEqual({
        [jtiOf(current.refresh_token!)]: null,
        [jtiOf(rotatedFrom.refresh_token!)]: 'rotated',
        [jtiOf(elsewhere.refresh_token!)]: 'password_change',
      });
      expect(await reasons(tx, other.id)).toEqual({ [jtiOf(theirs.refresh_token!)]: null });

      await tx.query("select set_config('jwt.claims.session_id', '', true)");
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, 'a brand new password')).status).toBe('ok');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('invalid_credentials');
    }));

  it('without a session claim, revokes every session', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      const a = await login(tx, user.email, PASSWORD);
      await tx.becomeUser(user);
      await tx.query('select lms_private.change_password($1, $2)', [PASSWORD, 'a brand new password']);
      expect(await reasons(tx, user.id)).toEqual({ [jtiOf(a.refresh_token!)]: 'password_change' });
    }));

  // The status is returned, not raised, so the failure commits with the request and counts toward the lockout.
  it('a wrong current password leaves a committed failure that counts toward the lockout', async () => {
    const user = await insertUser(db.root, { email: `change-fail-${Date.now()}@example.test` });
    for (let i = 0; i < 5; i++) {
      const client = await db.auth.connect();
      try {
        await client.query('begin');
        await client.query('set local role lms_student');
        // As the API sets them: the user, and the bcrypt cost (SQL has no default).
        await client.query("select set_config('jwt.claims.user_id', $1, true), set_config('lms.bcrypt_cost', '4', true)", [user.id]);
        const { rows } = await client.query('select lms_private.change_password($1, $2) as s', ['a wrong guess!', 'a brand new password']);
        expect(rows[0].s).toBe('invalid_credentials');
        await client.query('commit');
      } finally {
        client.release();
      }
    }
    expect(await eventsOf(db.root, user.id, 'login_failed')).toHaveLength(5);
    const { rows } = await db.root.query('select locked_until > now() as locked from lms_private.user_lockouts where user_id = $1', [user.id]);
    expect(rows).toEqual([{ locked: true }]);
  });

  it('answers NOAUT to lms_anonymous', () =>
    db.transaction(async (tx) => {
      await tx.becomeAnonymous();
      await expectCode(tx, 'select lms_private.change_password($1, $2)', [PASSWORD, 'a brand new password'], 'NOAUT');
    }));
});
