import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { insertCourse, insertUser } from '../../support/fixtures.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

describe('users', () => {
  it('a user reads only their own row; an admin reads every row; anonymous reads none', () =>
    db.transaction(async (tx) => {
      const a = await insertUser(tx.client);
      const b = await insertUser(tx.client);
      const admin = await insertUser(tx.client, { role: 'admin' });

      await tx.becomeUser(a);
      expect((await tx.query('select id from lms_public.users')).rows).toEqual([{ id: a.id }]);

      await tx.becomeUser(admin);
      const all = await tx.query('select id from lms_public.users where id = any($1) order by id', [[a.id, b.id]]);
      expect(all.rowCount).toBe(2);

      await tx.becomeAnonymous();
      expect((await tx.query('select id from lms_public.users')).rowCount).toBe(0);
    }));

  it('a user may change only their own name and profile', () =>
    db.transaction(async (tx) => {
      const a = await insertUser(tx.client);
      const b = await insertUser(tx.client);
      await tx.becomeUser(a);

      const own = await tx.query("update lms_public.users set full_name = 'Renamed' where id = $1", [a.id]);
      expect(own.rowCount).toBe(1);
      const other = await tx.query("update lms_public.users set full_name = 'Hijacked' where id = $1", [b.id]);
      expect(other.rowCount).toBe(0);

      await tx.query('savepoint s');
      await expect(tx.query("update lms_public.users set role = 'admin' where id = $1", [a.id])).rejects.toMatchObject({ code: '42501' });
      await tx.query('rollback to savepoint s');
      await expect(tx.query("insert into lms_public.users (email, full_name) values ('x@example.test', 'X')")).rejects.toMatchObject({
        code: '42501',
      });
    }));

  it('every user has a password row by the end of the transaction', async () => {
    await expect(
      db.asRoot((c) =>
        c
          .query("insert into lms_public.users (email, full_name) values ('nopass@example.test', 'No Password')")
          .then(() => c.query('set constraints all immediate')),
      ),
    ).rejects.toMatchObject({ code: '23502' });
  });
});

describe('courses', () => {
  it('everyone sees published courses; an instructor also sees their own drafts; admins see all', () =>
    db.transaction(async (tx) => {
      const teacher = await insertUser(tx.client, { role: 'instructor' });
      const otherTeacher = await insertUser(tx.client, { role: 'instructor' });
      const student = await insertUser(tx.client);
      const admin = await insertUser(tx.client, { role: 'admin' });
      const published = await insertCourse(tx.client, teacher.id, { isPublished: true });
      const draft = await insertCourse(tx.client, teacher.id);
      const visible = async () =>
        (await tx.query('select id from lms_public.courses where id = any($1)', [[published.id, draft.id]])).rows.map((r) => r.id).sort();

      await tx.becomeAnonymous();
      expect(await visible()).toEqual([published.id]);
      await tx.becomeUser(student);
      expect(await visible()).toEqual([published.id]);
      await tx.becomeUser(otherTeacher);
      expect(await visible()).toEqual([published.id]);
      await tx.becomeUser(teacher);
      expect(await visible()).toEqual([published.id, draft.id].sort());
      await tx.becomeUser(admin);
      expect(await visible()).toEqual([published.id, draft.id].sort());

      await expect(tx.query('update lms_public.courses set is_published = true where id = $1', [draft.id])).rejects.toMatchObject({ code: '42501' });
    }));
});

describe('updated_at', () => {
  it('moves forward on every update', () =>
    db.transaction(async (tx) => {
      const a = await insertUser(tx.client);
      await tx.query("update lms_public.users set updated_at = now() - interval '1 day' where id = $1", [a.id]);
      const { rows } = await tx.query<{ fresh: boolean }>(
        "update lms_public.users set full_name = 'Changed' where id = $1 returning updated_at >= now() - interval '1 minute' as fresh",
        [a.id],
      );
      expect(rows[0]?.fresh).toBe(true);
    }));
});
