import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { accessToken, startTestApi, testConfig, type TestApi } from '../../support/api.ts';
import { eventually } from '../../support/eventually.ts';
import { course, lessons, user } from '../../support/courses.ts';
import { coursePayment } from '../../support/payments.ts';
import { charge, checkoutSession, event, signed, type StripeEvent } from '../../support/stripe/events.ts';
import { startWorker, type Worker } from '../../../worker/runner.ts';

// The whole path with committed data: signed events over HTTP, two real workers applying them,
// and what the student sees through GraphQL.

const SECRET = 'whsec_worker_test_secret';
let db: TestDatabase;
let api: TestApi;
const workers: Worker[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db, { env: { STRIPE_WEBHOOK_SECRET: SECRET } });
  const config = testConfig(db, { STRIPE_WEBHOOK_SECRET: SECRET, LMS_WORKER_CONCURRENCY: '4' });
  workers.push(await startWorker(config, db.ownerUrl), await startWorker(config, db.ownerUrl));
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await api.close();
  await db.close();
});

async function deliver(evt: StripeEvent): Promise<void> {
  const { body, signature } = signed(evt, SECRET);
  const res = await fetch(`${api.url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'stripe-signature': signature, 'content-type': 'application/json' },
    body,
  });
  expect(res.status).toBe(200);
}
const eventStatus = async (id: string) =>
  (
    await db.root.query<{ status: string; error_message: string | null }>(
      'select status, error_message from lms_private.payment_webhook_events where stripe_event_id = $1',
      [id],
    )
  ).rows[0];
const settled = (id: string) =>
  eventually(
    async () => {
      const e = await eventStatus(id);
      return e && e.status !== 'received' ? e : undefined;
    },
    `event ${id} to be applied`,
    15_000,
  );

async function purchase() {
  const teacher = await user(db.root, 'instructor');
  const c = await course(db.root, teacher.id, { price: 100 });
  await lessons(db.root, c.id, 2);
  const student = await user(db.root);
  const paymentId = await coursePayment(db.root, student.id, c.id, 'pending');
  return { course: c, student, paymentId, token: accessToken(api.config, student) };
}

async function seen(token: string, courseId: string) {
  const { body } = await api.graphql('query($c: UUID!) { courseAccess(courseId: $c) { hasAccess reason } lessons(condition: {courseId: $c}) { totalCount } }', {
    variables: { c: courseId },
    token,
  });
  return { ...body.data.courseAccess, lessons: body.data.lessons.totalCount };
}

it('a checkout delivered 10 times at once, and applied 10 times at once by two workers, has one effect; a refund then closes the course', async () => {
  const { course: c, student, paymentId, token } = await purchase();
  expect(await seen(token, c.id)).toEqual({ hasAccess: false, reason: 'payment_required', lessons: 0 });

  const session = checkoutSession({ paymentId, userId: student.id, courseId: c.id });
  const completed = event('checkout.session.completed', session, Math.floor(Date.now() / 1000) - 5);
  await Promise.all(Array.from({ length: 10 }, () => deliver(completed)));
  // Duplicate jobs for one event, as a redelivery during a retry or a replay would make: the
  // workers race, and the event's row lock lets one apply it.
  await db.root.query("select graphile_worker.add_job('payments__apply_event', json_build_object('eventId', $1::text)) from generate_series(1, 10)", [
    completed.id,
  ]);
  // Distinct events for the same session (Stripe may emit them): still one enrollment.
  const again = Array.from({ length: 5 }, () => event('checkout.session.completed', session, completed.created));
  await Promise.all(again.map(deliver));
  for (const e of [completed, ...again]) expect(await settled(e.id)).toEqual({ status: 'processed', error_message: null });
  await eventually(
    async () =>
      (await db.root.query("select count(*)::int as n from graphile_worker.jobs where task_identifier = 'payments__apply_event'")).rows[0].n === 0
        ? true
        : undefined,
    'the jobs to finish',
    15_000,
  );

  const facts = (
    await db.root.query(
      `select (select count(*)::int from lms_public.enrollments where student_id = $1) as enrollments,
            (select count(*)::int from lms_public.payments where user_id = $1) as payments,
            (select status from lms_public.payments where id = $2) as status,
            (select count(*)::int from lms_private.payment_webhook_events where stripe_event_id = $3) as events`,
      [student.id, paymentId, completed.id],
    )
  ).rows[0];
  expect(facts).toEqual({ enrollments: 1, payments: 1, status: 'succeeded', events: 1 });
  expect(await seen(token, c.id)).toEqual({ hasAccess: true, reason: 'purchase', lessons: 2 });

  const refunded = event('charge.refunded', charge({ paymentIntent: session.payment_intent as string, amountRefunded: 10000 }));
  await deliver(refunded);
  expect(await settled(refunded.id)).toEqual({ status: 'processed', error_message: null });
  expect(await seen(token, c.id)).toEqual({ hasAccess: false, reason: 'refunded', lessons: 0 });
});

it('a failing event is recorded failed with its error and retried by the worker until it applies', async () => {
  const { course: c, student, paymentId, token } = await purchase();
  const session = checkoutSession({ paymentId, userId: student.id, courseId: c.id });
  // The refund arrives before the checkout that tells us its PaymentIntent.
  const refunded = event('charge.refunded', charge({ paymentIntent: session.payment_intent as string, amountRefunded: 10000 }));
  await deliver(refunded);
  const failed = await settled(refunded.id);
  expect(failed).toEqual({ status: 'failed', error_message: expect.stringMatching(/^no payment for charge/) });
  const job = (await db.root.query("select attempts, last_error from graphile_worker.jobs where key = 'payments__apply_event:' || $1", [refunded.id])).rows[0];
  expect(job).toMatchObject({ attempts: 1, last_error: expect.stringMatching(/failed: no payment for charge/) });

  const completed = event('checkout.session.completed', session, refunded.created - 10);
  await deliver(completed);
  expect(await settled(completed.id)).toEqual({ status: 'processed', error_message: null });
  // Due now rather than after the backoff.
  await db.root.query("update graphile_worker._private_jobs set run_at = now() where key = 'payments__apply_event:' || $1", [refunded.id]);
  await eventually(async () => ((await eventStatus(refunded.id))!.status === 'processed' ? true : undefined), 'the retry to apply the refund', 15_000);
  expect(await seen(token, c.id)).toEqual({ hasAccess: false, reason: 'refunded', lessons: 0 });
});
