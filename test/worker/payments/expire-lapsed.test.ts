import { createTestDatabase, type TestDatabase, committedAs } from '../../support/db.ts';
import { testConfig } from '../../support/api.ts';
import { eventually } from '../../support/eventually.ts';
import { course, lessons, user } from '../../support/courses.ts';
import { plan, subscription } from '../../support/payments.ts';
import { startWorker, type Worker } from '../../../worker/runner.ts';
import { crontab } from '../../../worker/crontab.ts';

// Committed data and a real worker: a subscription whose period ends with no event from Stripe
// expires its enrollments through the scheduled payments__expire_lapsed.

let db: TestDatabase;
let worker: Worker | undefined;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await worker?.stop();
  await db.close();
});

it('is scheduled every minute', () => {
  expect(crontab.split('\n')).toContain('* * * * * payments__expire_lapsed ?max=1');
});

it('expires the enrollments of a subscription whose period lapsed with no event, and only those', async () => {
  const teacher = await user(db.root, 'instructor');
  const c = await course(db.root, teacher.id, { price: 100 });
  await lessons(db.root, c.id, 1);
  const lapsed = await user(db.root);
  const renewed = await user(db.root);
  const planId = await plan(db.root);
  const lapsedSubscription = await subscription(db.root, lapsed.id, planId);
  await subscription(db.root, renewed.id, planId);
  for (const who of [lapsed, renewed]) await committedAs(db.auth, who, (client) => client.query('select lms_public.enroll($1)', [c.id]));

  // Time passing, which no trigger sees: the period end moves into the past behind the triggers' back.
  const client = await db.root.connect();
  try {
    await client.query('begin');
    await client.query('set local session_replication_role = replica');
    await client.query("update lms_public.subscriptions set current_period_end = now() - interval '1 minute' where id = $1", [lapsedSubscription]);
    await client.query('commit');
  } finally {
    client.release();
  }
  const statusOf = async (studentId: string) =>
    (
      await db.root.query<{ status: string; access_reason: string }>('select status, access_reason from lms_public.enrollments where student_id = $1', [
        studentId,
      ])
    ).rows[0]!;
  expect(await statusOf(lapsed.id)).toMatchObject({ status: 'active' });

  worker = await startWorker(testConfig(db), db.ownerUrl);
  await db.root.query("select graphile_worker.add_job('payments__expire_lapsed', '{}'::json)");
  await eventually(async () => ((await statusOf(lapsed.id)).status === 'expired' ? true : undefined), 'the lapsed enrollment to expire');
  expect(await statusOf(lapsed.id)).toEqual({ status: 'expired', access_reason: 'subscription_ended' });
  expect(await statusOf(renewed.id)).toEqual({ status: 'active', access_reason: 'subscription' });
});
