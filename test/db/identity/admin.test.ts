import { generateSecret } from 'otplib';
import { createTestDatabase, type TestDatabase, type Transaction, expectCode } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';
import { codeAt, dbStep, eventsOf, jtiOf, login, PASSWORD, refresh } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const ADMIN_CALLS: [sql: string, params: (target: string) => unknown[]][] = [
  ['select * from lms_public.set_user_role($1, $2)', (t) => [t, 'admin']],
  ['select * from lms_public.set_user_active($1, $2)', (t) => [t, false]],
  ['select * from lms_public.reset_user_mfa($1)', (t) => [t]],
];

async function sessionRole(tx: Transaction, userId: string): Promise<string | null> {
  return (await tx.query<{ role: string | null }>('select lms_private.session_role($1) as role', [userId])).rows[0]!.role;
}

describe('who may call the admin functions', () => {
  it('a student, an instructor and anonymous get permission denied on EXECUTE (42501), and nothing changes', () =>
    db.transaction(async (tx) => {
      const target = await insertUser(tx.client);
      const student = await insertUser(tx.client);
      const instructor = await insertUser(tx.client, { role: 'instructor' });
      for (const visitor of [student, instructor, null]) {
        await (visitor ? tx.becomeUser(visitor) : tx.becomeAnonymous());
        for (const [sql, params] of ADMIN_CALLS) await expectCode(tx, sql, params(target.id), '42501');
        // Not even on themselves.
        if (visitor) for (const [sql, params] of ADMIN_CALLS) await expectCode(tx, sql, params(visitor.id), '42501');
      }
      await tx.becomeRoot();
      const { rows } = await tx.query('select role, is_active from lms_public.users where id = any($1) order by role', [
        [target.id, student.id, instructor.id],
      ]);
      expect(rows).toEqual([
        { role: 'instructor', is_active: true },
        { role: 'student', is_active: true },
        { role: 'student', is_active: true },
      ]);
    }));

  // BUG: require_admin() calls is_admin(), i.e. current_user = 'lms_admin'; inside these SECURITY DEFINER
  // functions current_user is their owner, lms_owner, so every admin is refused with FRBDN.
  it('BUG require_admin-under-definer: an lms_admin can call set_user_role, set_user_active and reset_user_mfa', () =>
    db.transaction(async (tx) => {
      const admin = await insertUser(tx.client, { role: 'admin' });
      const target = await insertUser(tx.client);
      await tx.becomeUser(admin);
      expect((await tx.query('select lms_private.is_admin() as admin')).rows[0].admin).toBe(true);
      const outcomes: Record<string, string> = {};
      for (const [sql, params] of ADMIN_CALLS) {
        await tx.query('savepoint call');
        try {
          await tx.query(sql, params(target.id));
          outcomes[sql] = 'ok';
        } catch (error) {
          outcomes[sql] = `${(error as { code?: string }).code}: ${(error as Error).message}`;
        }
        await tx.query('rollback to savepoint call');
      }
      expect(outcomes).toEqual(Object.fromEntries(ADMIN_CALLS.map(([sql]) => [sql, 'ok'])));
    }));
});

describe('lms_public.set_user_role, as lms_admin (fails while the require_admin-under-definer bug stands)', () => {
  it('changes the role: session_role gives the new role, and role_changed records from, to and the admin', () =>
    db.transaction(async (tx) => {
      const admin = await insertUser(tx.client, { role: 'admin' });
      const target = await insertUser(tx.client);
      await tx.becomeUser(admin);
      const { rows } = await tx.query('select id, role from lms_public.set_user_role($1, $2)', [target.id, 'instructor']);
      expect(rows).toEqual([{ id: target.id, role: 'instructor' }]);
      await tx.becomeRoot();
      expect(await sessionRole(tx, target.id)).toBe('instructor');
      expect(await eventsOf(tx, target.id, 'role_changed')).toMatchObject([{ actor_id: admin.id, details: { from: 'student', to: 'instructor' } }]);
    }));

  it('refuses an admin changing their own role (FRBDN), an unknown role (INVAL) and an unknown user (NTFND)', () =>
    db.transaction(async (tx) => {
      const admin = await insertUser(tx.client, { role: 'admin' });
      const target = await insertUser(tx.client);
      await tx.becomeUser(admin);
      await expectCode(tx, 'select * from lms_public.set_user_role($1, $2)', [admin.id, 'student'], 'FRBDN', /own role/);
      await expectCode(tx, 'select * from lms_public.set_user_role($1, $2)', [target.id, 'superuser'], 'INVAL');
      await expectCode(tx, 'select * from lms_public.set_user_role($1, $2)', [target.id, null], 'INVAL');
      await expectCode(tx, 'select * from lms_public.set_user_role($1, $2)', ['00000000-0000-0000-0000-000000000000', 'student'], 'NTFND');
    }));
});

describe('lms_public.set_user_active, as lms_admin (fails while the require_admin-under-definer bug stands)', () => {
  it("deactivation revokes the user's refresh tokens, makes session_role null, and refuses login", () =>
    db.transaction(async (tx) => {
      const admin = await insertUser(tx.client, { role: 'admin' });
      const target = await insertUser(tx.client);
      await tx.becomeAnonymous();
      const a = await login(tx, target.email, PASSWORD);
      const b = await login(tx, target.email, PASSWORD);
      await tx.becomeUser(admin);
      expect((await tx.query('select is_active from lms_public.set_user_active($1, false)', [target.id])).rows).toEqual([{ is_active: false }]);

      await tx.becomeRoot();
      const { rows } = await tx.query('select token_jti, revoked_reason from lms_private.refresh_tokens where user_id = $1 order by token_jti', [target.id]);
      expect(rows).toEqual([jtiOf(a.refresh_token!), jtiOf(b.refresh_token!)].sort().map((token_jti) => ({ token_jti, revoked_reason: 'deactivated' })));
      expect(await sessionRole(tx, target.id)).toBeNull();
      expect(await eventsOf(tx, target.id, 'user_deactivated')).toMatchObject([{ actor_id: admin.id, details: { sessions_revoked: 2 } }]);
      await tx.becomeAnonymous();
      expect((await login(tx, target.email, PASSWORD)).status).toBe('account_disabled');
      expect((await refresh(tx, a.refresh_token!)).status).toBe('invalid_token');
    }));

  it('reactivation restores session_role and login', () =>
    db.transaction(async (tx) => {
      const admin = await insertUser(tx.client, { role: 'admin' });
      const target = await insertUser(tx.client, { role: 'instructor' });
      await tx.becomeUser(admin);
      await tx.query('select from lms_public.set_user_active($1, false)', [target.id]);
      await tx.query('select from lms_public.set_user_active($1, true)', [target.id]);
      await tx.becomeRoot();
      expect(await sessionRole(tx, target.id)).toBe('instructor');
      expect((await eventsOf(tx, target.id)).map((e) => e.event_type)).toEqual(['user_deactivated', 'user_reactivated']);
      await tx.becomeAnonymous();
      expect((await login(tx, target.email, PASSWORD)).status).toBe('ok');
    }));

  it('refuses an admin deactivating themselves (FRBDN) and an unknown user (NTFND)', () =>
    db.transaction(async (tx) => {
      const admin = await insertUser(tx.client, { role: 'admin' });
      await tx.becomeUser(admin);
      await expectCode(tx, 'select * from lms_public.set_user_active($1, false)', [admin.id], 'FRBDN', /themselves/);
      await expectCode(tx, 'select * from lms_public.set_user_active($1, false)', ['00000000-0000-0000-0000-000000000000'], 'NTFND');
      await tx.becomeRoot();
      expect(await sessionRole(tx, admin.id)).toBe('admin');
    }));
});

describe('lms_public.reset_user_mfa, as lms_admin (fails while the require_admin-under-definer bug stands)', () => {
  it("turns the user's MFA off and deletes their secret and recovery codes", () =>
    db.transaction(async (tx) => {
      const admin = await insertUser(tx.client, { role: 'admin' });
      const target = await insertUser(tx.client);
      const secret = generateSecret();
      await tx.becomeUser(target);
      await tx.query('select lms_private.begin_mfa_enrollment($1)', [secret]);
      await tx.query('select lms_private.confirm_mfa($1)', [await codeAt(secret, await dbStep(tx))]);
      await tx.becomeAnonymous();
      expect((await login(tx, target.email, PASSWORD)).status).toBe('mfa_required');

      await tx.becomeUser(admin);
      expect((await tx.query('select mfa_enabled from lms_public.reset_user_mfa($1)', [target.id])).rows).toEqual([{ mfa_enabled: false }]);
      await tx.becomeRoot();
      expect((await tx.query('select 1 from lms_private.user_mfa where user_id = $1', [target.id])).rowCount).toBe(0);
      expect((await tx.query('select 1 from lms_private.mfa_recovery_codes where user_id = $1', [target.id])).rowCount).toBe(0);
      expect(await eventsOf(tx, target.id, 'mfa_reset_by_admin')).toMatchObject([{ actor_id: admin.id }]);
      await tx.becomeAnonymous();
      expect((await login(tx, target.email, PASSWORD)).status).toBe('ok');
    }));
});

describe("lms_private.session_role, as the API's own connection", () => {
  it('gives the current role, the new role after a change, and null once deactivated or for an unknown id', async () => {
    const user = await insertUser(db.root, { email: `session-role-${Date.now()}@example.test` });
    const asAuthenticator = async (id: string) => (await db.auth.query('select lms_private.session_role($1) as role', [id])).rows[0].role;
    expect(await asAuthenticator(user.id)).toBe('student');
    await db.root.query("update lms_public.users set role = 'instructor' where id = $1", [user.id]);
    expect(await asAuthenticator(user.id)).toBe('instructor');
    await db.root.query('update lms_public.users set is_active = false where id = $1', [user.id]);
    expect(await asAuthenticator(user.id)).toBeNull();
    expect(await asAuthenticator('00000000-0000-0000-0000-000000000000')).toBeNull();
  });

  it('is not executable by the visitor roles (42501)', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      for (const become of [() => tx.becomeAnonymous(), () => tx.becomeUser(user)]) {
        await become();
        await expectCode(tx, 'select lms_private.session_role($1)', [user.id], '42501');
      }
    }));
});
