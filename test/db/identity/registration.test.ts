import { createTestDatabase, type TestDatabase, expectCode } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';
import { fastBcrypt, jobsFor, PASSWORD } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const REGISTER = 'select * from lms_public.register($1, $2, $3)';

describe('lms_public.register, as lms_anonymous', () => {
  it('stores the email trimmed and lower-cased, and makes an active, unverified student without MFA', () =>
    db.transaction(async (tx) => {
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      const { rows } = await tx.query(REGISTER, ['  Grace.Hopper@Example.TEST ', PASSWORD, '  Grace Hopper  ']);
      expect(rows[0]).toMatchObject({
        email: 'grace.hopper@example.test',
        full_name: 'Grace Hopper',
        role: 'student',
        is_active: true,
        mfa_enabled: false,
        email_verified_at: null,
        last_login_at: null,
      });
    }));

  it('stores only a bcrypt hash of the password, in lms_private.user_passwords', () =>
    db.transaction(async (tx) => {
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      const { rows } = await tx.query<{ id: string }>(REGISTER, ['hash@example.test', PASSWORD, 'Hash']);
      await tx.becomeRoot();
      const stored = await tx.query<{ password_hash: string; matches: boolean; wrong: boolean }>(
        `select password_hash, password_hash = crypt($2, password_hash) as matches, password_hash = crypt('not the password', password_hash) as wrong
         from lms_private.user_passwords where user_id = $1`,
        [rows[0]!.id, PASSWORD],
      );
      expect(stored.rowCount).toBe(1);
      // "$2a$" bcrypt at the cost the session asked for, 60 characters in all.
      expect(stored.rows[0]!.password_hash).toMatch(/^\$2a\$04\$[./A-Za-z0-9]{53}$/);
      expect(stored.rows[0]!.password_hash).not.toContain(PASSWORD);
      expect(stored.rows[0]).toMatchObject({ matches: true, wrong: false });
    }));

  it('refuses an email that is taken in any case or spacing (EMTKN)', () =>
    db.transaction(async (tx) => {
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      await tx.query(REGISTER, ['ada@example.test', PASSWORD, 'Ada']);
      await expectCode(tx, REGISTER, [' ADA@Example.Test ', PASSWORD, 'Impostor'], 'EMTKN');
      await expectCode(tx, REGISTER, ['ada@example.test', PASSWORD, 'Impostor'], 'EMTKN');
      await tx.becomeRoot();
      const { rows } = await tx.query("select count(*)::int as n from lms_public.users where lower(email) = 'ada@example.test'");
      expect(rows[0].n).toBe(1);
    }));

  it('refuses passwords shorter than 10 characters (WEAKP) and accepts 10', () =>
    db.transaction(async (tx) => {
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      await expectCode(tx, REGISTER, ['short@example.test', 'abcdefghi', 'Short'], 'WEAKP');
      await expectCode(tx, REGISTER, ['empty@example.test', '', 'Empty'], 'WEAKP');
      await expectCode(tx, REGISTER, ['null@example.test', null, 'Null'], 'WEAKP');
      const ok = await tx.query(REGISTER, ['ten@example.test', 'abcdefghij', 'Ten']);
      expect(ok.rowCount).toBe(1);
    }));

  it('limits the password to 72 BYTES, not characters (WEAKP)', () =>
    db.transaction(async (tx) => {
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      // 'é' is two bytes in UTF-8: 36 of them are 72 bytes, 37 are 74 bytes in only 37 characters.
      expect((await tx.query(REGISTER, ['e30@example.test', 'é'.repeat(30), 'Thirty'])).rowCount).toBe(1);
      expect((await tx.query(REGISTER, ['e36@example.test', 'é'.repeat(36), 'Thirty-six'])).rowCount).toBe(1);
      await expectCode(tx, REGISTER, ['e37@example.test', 'é'.repeat(37), 'Thirty-seven'], 'WEAKP', /72 bytes/);
      expect((await tx.query(REGISTER, ['a72@example.test', 'a'.repeat(72), 'Ascii'])).rowCount).toBe(1);
      await expectCode(tx, REGISTER, ['a73@example.test', 'a'.repeat(73), 'Ascii'], 'WEAKP');
    }));

  it('refuses an invalid email or an empty name (INVAL)', () =>
    db.transaction(async (tx) => {
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      for (const email of ['not-an-email', 'a@b', 'two words@example.test', 'a@@example.test', '', '   ', null, `${'x'.repeat(250)}@example.test`]) {
        await expectCode(tx, REGISTER, [email, PASSWORD, 'Someone'], 'INVAL');
      }
      await expectCode(tx, REGISTER, ['noname@example.test', PASSWORD, '   '], 'INVAL');
      await expectCode(tx, REGISTER, ['noname@example.test', PASSWORD, null], 'INVAL');
    }));

  it('queues users__send_verification_email in the same transaction, with only the userId in its payload', () =>
    db.transaction(async (tx) => {
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      const { rows } = await tx.query<{ id: string }>(REGISTER, ['verify-job@example.test', PASSWORD, 'Job']);
      const id = rows[0]!.id;
      await tx.becomeRoot();
      const jobs = await jobsFor(tx, 'users__send_verification_email');
      expect(jobs).toEqual([{ key: `users__send_verification_email:${id}`, payload: { userId: id } }]);
      // Nothing secret rides along: no token is minted yet, and the password is nowhere.
      const tokens = await tx.query('select count(*)::int as n from lms_private.email_tokens where user_id = $1', [id]);
      expect(tokens.rows[0].n).toBe(0);
      expect(JSON.stringify(jobs)).not.toContain(PASSWORD);
      // Uncommitted, so another connection cannot see the job yet.
      const outside = await db.root.query("select count(*)::int as n from graphile_worker.jobs where task_identifier = 'users__send_verification_email'");
      expect(outside.rows[0].n).toBe(0);
    }));

  it('queues no job when registration fails', () =>
    db.transaction(async (tx) => {
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      await tx.query(REGISTER, ['first@example.test', PASSWORD, 'First']);
      await tx.becomeRoot();
      const before = (await jobsFor(tx, 'users__send_verification_email')).length;
      await tx.becomeAnonymous();
      await tx.query('savepoint s');
      await expect(tx.query(REGISTER, ['FIRST@example.test', PASSWORD, 'Again'])).rejects.toMatchObject({ code: 'EMTKN' });
      await tx.query('rollback to savepoint s');
      await tx.becomeRoot();
      expect((await jobsFor(tx, 'users__send_verification_email')).length).toBe(before);
    }));

  it('the new row is visible to its owner only: not to anonymous, not to another student', () =>
    db.transaction(async (tx) => {
      const other = await insertUser(tx.client);
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      const { rows } = await tx.query<{ id: string }>(REGISTER, ['private@example.test', PASSWORD, 'Private']);
      const id = rows[0]!.id;
      const byId = 'select id, email from lms_public.users where id = $1';
      expect((await tx.query(byId, [id])).rowCount).toBe(0);
      expect((await tx.query("select 1 from lms_public.users where email = 'private@example.test'")).rowCount).toBe(0);
      await tx.becomeUser(other);
      expect((await tx.query(byId, [id])).rowCount).toBe(0);
      await tx.becomeUser({ id, role: 'student' });
      expect((await tx.query(byId, [id])).rows).toEqual([{ id, email: 'private@example.test' }]);
    }));

  it('anonymous cannot create a user except through register', () =>
    db.transaction(async (tx) => {
      await tx.becomeAnonymous();
      await expectCode(tx, "insert into lms_public.users (email, full_name) values ('direct@example.test', 'Direct')", [], '42501');
      await expectCode(tx, "select lms_private.hash_password('whatever password')", [], '42501');
      await expectCode(tx, "select lms_private.create_admin('boss@example.test', 'whatever password', 'Boss')", [], '42501');
    }));
});

describe('lms_private.bcrypt_cost', () => {
  it('has no default of its own: a transaction without lms.bcrypt_cost is refused', () =>
    db.transaction(async (tx) => {
      await tx.query("select set_config('lms.bcrypt_cost', '', true)");
      await expectCode(tx, 'select lms_private.bcrypt_cost()', [], '42704', /lms\.bcrypt_cost is missing/);
      await expectCode(tx, "select lms_public.register('no.cost@example.com', 'a long enough password', 'No Cost')", [], '42704');
    }));

  it('follows lms.bcrypt_cost within 4..15', () =>
    db.transaction(async (tx) => {
      const cost = async () => (await tx.query<{ c: number }>('select lms_private.bcrypt_cost() as c')).rows[0]!.c;
      await tx.query("select set_config('lms.bcrypt_cost', '12', true)");
      expect(await cost()).toBe(12);
      await tx.query("select set_config('lms.bcrypt_cost', '4', true)");
      expect(await cost()).toBe(4);
      await tx.query("select set_config('lms.bcrypt_cost', '2', true)");
      expect(await cost()).toBe(4);
      await tx.query("select set_config('lms.bcrypt_cost', '31', true)");
      expect(await cost()).toBe(15);
    }));
});
