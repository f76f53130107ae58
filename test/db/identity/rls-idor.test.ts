import pg from 'pg';
import { createTestDatabase, type TestDatabase, expectCode } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const PRIVATE_TABLES = [
  'user_passwords',
  'refresh_tokens',
  'email_tokens',
  'user_mfa',
  'mfa_recovery_codes',
  'user_lockouts',
  'security_events',
  'rate_limits',
  'rate_limit_hits',
];

describe('lms_public.users between two students', () => {
  it("A cannot read B's row, by id or by email", () =>
    db.transaction(async (tx) => {
      const a = await insertUser(tx.client);
      const b = await insertUser(tx.client);
      await tx.becomeUser(a);
      expect((await tx.query('select 1 from lms_public.users where id = $1', [b.id])).rowCount).toBe(0);
      expect((await tx.query('select 1 from lms_public.users where email = $1', [b.email])).rowCount).toBe(0);
      expect((await tx.query('select id from lms_public.users')).rows).toEqual([{ id: a.id }]);
    }));

  it("A cannot update or delete B's row (0 rows), and B's name is unchanged", () =>
    db.transaction(async (tx) => {
      const a = await insertUser(tx.client);
      const b = await insertUser(tx.client, { fullName: 'Bea' });
      await tx.becomeUser(a);
      expect((await tx.query("update lms_public.users set full_name = 'Hijacked' where id = $1", [b.id])).rowCount).toBe(0);
      expect((await tx.query('update lms_public.users set profile_metadata = \'{"x": 1}\' where id = $1', [b.id])).rowCount).toBe(0);
      await expectCode(tx, 'delete from lms_public.users where id = $1', [b.id], '42501');
      await tx.becomeRoot();
      expect((await tx.query('select full_name, profile_metadata from lms_public.users where id = $1', [b.id])).rows).toEqual([
        { full_name: 'Bea', profile_metadata: null },
      ]);
    }));

  it('A can change their own name and profile, directly and through update_profile', () =>
    db.transaction(async (tx) => {
      const a = await insertUser(tx.client);
      await tx.becomeUser(a);
      expect((await tx.query("update lms_public.users set full_name = 'Renamed' where id = $1", [a.id])).rowCount).toBe(1);
      const { rows } = await tx.query('select id, full_name, profile_metadata from lms_public.update_profile(\' Again \', \'{"bio": "hi"}\')');
      expect(rows).toEqual([{ id: a.id, full_name: 'Again', profile_metadata: { bio: 'hi' } }]);
      await expectCode(tx, "select * from lms_public.update_profile('  ', null)", [], 'INVAL');
    }));

  it.each([
    ['role', "'admin'"],
    ['is_active', 'false'],
    ['email', "'someone.else@example.test'"],
    ['mfa_enabled', 'true'],
    ['email_verified_at', 'now()'],
    ['last_login_at', 'now()'],
    ['created_at', 'now()'],
  ])('A cannot update their own %s (42501)', (column, value) =>
    db.transaction(async (tx) => {
      const a = await insertUser(tx.client);
      await tx.becomeUser(a);
      await expectCode(tx, `update lms_public.users set ${column} = ${value} where id = $1`, [a.id], '42501');
    }),
  );

  it('an instructor gets no more than a student', () =>
    db.transaction(async (tx) => {
      const teacher = await insertUser(tx.client, { role: 'instructor' });
      const b = await insertUser(tx.client);
      await tx.becomeUser(teacher);
      expect((await tx.query('select 1 from lms_public.users where id = $1', [b.id])).rowCount).toBe(0);
      expect((await tx.query("update lms_public.users set full_name = 'X' where id = $1", [b.id])).rowCount).toBe(0);
      await expectCode(tx, "update lms_public.users set role = 'admin' where id = $1", [teacher.id], '42501');
    }));

  it('an admin reads every row but cannot write role or flags directly either (42501)', () =>
    db.transaction(async (tx) => {
      const admin = await insertUser(tx.client, { role: 'admin' });
      const b = await insertUser(tx.client);
      await tx.becomeUser(admin);
      expect((await tx.query('select email from lms_public.users where id = $1', [b.id])).rows).toEqual([{ email: b.email }]);
      // update_self: even an admin edits only their own name directly.
      expect((await tx.query("update lms_public.users set full_name = 'X' where id = $1", [b.id])).rowCount).toBe(0);
      await expectCode(tx, "update lms_public.users set role = 'admin' where id = $1", [b.id], '42501');
      await expectCode(tx, 'update lms_public.users set is_active = false where id = $1', [b.id], '42501');
    }));
});

describe('lms_private tables', () => {
  it.each(PRIVATE_TABLES)('no visitor role can read lms_private.%s (42501)', (table) =>
    db.transaction(async (tx) => {
      const student = await insertUser(tx.client);
      const instructor = await insertUser(tx.client, { role: 'instructor' });
      const admin = await insertUser(tx.client, { role: 'admin' });
      for (const visitor of [null, student, instructor, admin]) {
        await (visitor ? tx.becomeUser(visitor) : tx.becomeAnonymous());
        await expectCode(tx, `select * from lms_private.${table}`, [], '42501');
      }
    }),
  );

  it('the bare authenticator connection reads none of them either (42501)', async () => {
    for (const table of PRIVATE_TABLES) {
      await expect(db.auth.query(`select * from lms_private.${table}`)).rejects.toMatchObject({ code: '42501' });
    }
    await expect(db.auth.query('select * from lms_public.users')).rejects.toMatchObject({ code: '42501' });
  });

  it('no visitor role can write the audit log (42501)', () =>
    db.transaction(async (tx) => {
      const admin = await insertUser(tx.client, { role: 'admin' });
      for (const visitor of [null, admin]) {
        await (visitor ? tx.becomeUser(visitor) : tx.becomeAnonymous());
        await expectCode(tx, "insert into lms_private.security_events (event_type) values ('forged')", [], '42501');
        await expectCode(tx, "select lms_private.log_security_event('forged', null)", [], '42501');
      }
    }));
});

describe('lms_public.security_events (the audit view)', () => {
  it('shows rows to lms_admin only; everyone else gets 42501', () =>
    db.transaction(async (tx) => {
      const student = await insertUser(tx.client);
      const instructor = await insertUser(tx.client, { role: 'instructor' });
      const admin = await insertUser(tx.client, { role: 'admin' });
      await tx.query("select lms_private.log_security_event('probe', $1, '{\"n\": 1}')", [student.id]);
      await tx.becomeUser(admin);
      expect((await tx.query("select user_id, details from lms_public.security_events where event_type = 'probe'")).rows).toEqual([
        { user_id: student.id, details: { n: 1 } },
      ]);
      for (const visitor of [null, student, instructor]) {
        await (visitor ? tx.becomeUser(visitor) : tx.becomeAnonymous());
        await expectCode(tx, 'select * from lms_public.security_events', [], '42501');
      }
    }));

  it('an admin cannot write through the view (42501)', () =>
    db.transaction(async (tx) => {
      const admin = await insertUser(tx.client, { role: 'admin' });
      await tx.query("select lms_private.log_security_event('probe', null)");
      await tx.becomeUser(admin);
      await expectCode(tx, "insert into lms_public.security_events (event_type) values ('forged')", [], '42501');
      await expectCode(tx, "update lms_public.security_events set event_type = 'edited'", [], '42501');
      await expectCode(tx, 'delete from lms_public.security_events', [], '42501');
    }));
});

describe('the audit log is append-only, even for its owner and the superuser', () => {
  it('root: UPDATE, DELETE and TRUNCATE raise FRBDN', () =>
    db.transaction(async (tx) => {
      await tx.query("select lms_private.log_security_event('probe', null)");
      await expectCode(tx, "update lms_private.security_events set details = '{}'", [], 'FRBDN');
      await expectCode(tx, 'delete from lms_private.security_events', [], 'FRBDN');
      await expectCode(tx, 'truncate lms_private.security_events', [], 'FRBDN');
      expect((await tx.query("select count(*)::int as n from lms_private.security_events where event_type = 'probe'")).rows[0].n).toBe(1);
    }));

  it('lms_owner: UPDATE, DELETE and TRUNCATE raise FRBDN', async () => {
    const owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
    try {
      await owner.query('begin');
      await owner.query("select lms_private.log_security_event('probe', null)");
      for (const sql of [
        "update lms_private.security_events set event_type = 'edited'",
        'delete from lms_private.security_events',
        'truncate lms_private.security_events',
      ]) {
        await owner.query('savepoint s');
        await expect(owner.query(sql)).rejects.toMatchObject({ code: 'FRBDN' });
        await owner.query('rollback to savepoint s');
      }
    } finally {
      await owner.query('rollback').catch(() => {});
      await owner.end();
    }
  });
});
