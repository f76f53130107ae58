import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { projectPath } from '../../src/paths.ts';

const run = promisify(execFile);
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const createAdmin = (...args: string[]) =>
  run(process.execPath, [projectPath('bin', 'create-admin.ts'), ...args], {
    cwd: projectPath(),
    env: { ...process.env, NODE_ENV: 'development', DATABASE_URL: db.rootUrl, LMS_BCRYPT_COST: '4' },
  });

it('creates the first admin, who can then sign in', async () => {
  await createAdmin('--email', ' First.Admin@Example.test ', '--password', 'a long admin password', '--name', 'First Admin');
  const { rows } = await db.root.query(
    `select u.role, u.full_name, u.email_verified_at is not null as verified,
            p.password_hash = crypt('a long admin password', p.password_hash) as password_ok
     from lms_public.users u join lms_private.user_passwords p on p.user_id = u.id where u.email = 'first.admin@example.test'`,
  );
  expect(rows).toEqual([{ role: 'admin', full_name: 'First Admin', verified: true, password_ok: true }]);
});

it('refuses a weak password and creates nothing', async () => {
  await expect(createAdmin('--email', 'weak@example.test', '--password', 'short')).rejects.toMatchObject({ code: 1 });
  expect((await db.root.query("select 1 from lms_public.users where email = 'weak@example.test'")).rowCount).toBe(0);
});
