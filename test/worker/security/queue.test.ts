import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';
import { testConfig } from '../../support/api.ts';
import { eventually } from '../../support/eventually.ts';
import { startWorker, type Worker } from '../../../worker/runner.ts';

let db: TestDatabase;
let runner: Worker;

beforeAll(async () => {
  db = await createTestDatabase();
  runner = await startWorker(testConfig(db), db.ownerUrl);
});
afterAll(async () => {
  await runner.stop();
  await db.close();
});

it('runs a job that a visitor role queued from SQL, through the definer wrapper', async () => {
  const user = await insertUser(db.root);
  await db.root.query(
    `insert into lms_private.refresh_tokens (user_id, token_jti, expires_at, session_expires_at)
     values ($1, 'expired-jti', now() - interval '1 hour', now()), ($1, 'live-jti', now() + interval '1 day', now() + interval '1 day')`,
    [user.id],
  );

  const client = await db.auth.connect();
  try {
    await client.query('begin');
    await client.query('set local role lms_student');
    await expect(client.query('select 1 from graphile_worker.jobs')).rejects.toMatchObject({ code: '42501' });
    await client.query('rollback');
    await client.query('begin');
    await client.query('set local role lms_student');
    await client.query("select lms_private.add_job('auth_state__purge')");
    await client.query('commit');
  } finally {
    client.release();
  }

  const remaining = await eventually(async () => {
    const { rows } = await db.root.query<{ token_jti: string }>('select token_jti from lms_private.refresh_tokens order by token_jti');
    return rows.length === 1 ? rows : undefined;
  }, 'the purge to leave one refresh token');
  expect(remaining).toEqual([{ token_jti: 'live-jti' }]);
  const queued = await db.root.query('select count(*)::int as n from graphile_worker.jobs');
  expect(queued.rows[0].n).toBe(0);
});
