import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { accessToken, startTestApi, type TestApi } from '../../support/api.ts';
import { course, lessons, user } from '../../support/courses.ts';
import { coursePayment, plan, subscription } from '../../support/payments.ts';

// The payments API as clients see it: plans, courseAccess, own payments and subscriptions,
// revenue for instructors and webhook events for admins, over HTTP.

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db);
});
afterAll(async () => {
  await api.close();
  await db.close();
});

async function ok(query: string, variables: Record<string, unknown>, token?: string) {
  const { status, body } = await api.graphql(query, { variables, ...(token ? { token } : {}) });
  expect({ status, errors: body.errors }).toEqual({ status: 200, errors: undefined });
  return body.data;
}

it('a buyer sees why they may enter, their own payment, and the lessons; another student sees none of it', async () => {
  const teacher = await user(db.root, 'instructor');
  const c = await course(db.root, teacher.id, { price: 250 });
  await lessons(db.root, c.id, 2);
  const buyer = await user(db.root);
  const other = await user(db.root);
  const paymentId = await coursePayment(db.root, buyer.id, c.id, 'succeeded', 250);
  const asBuyer = accessToken(api.config, buyer);
  const asOther = accessToken(api.config, other);

  const access = 'query($c: UUID!) { courseAccess(courseId: $c) { hasAccess reason until } }';
  expect((await ok(access, { c: c.id }, asBuyer)).courseAccess).toEqual({ hasAccess: true, reason: 'purchase', until: null });
  expect((await ok(access, { c: c.id }, asOther)).courseAccess).toEqual({ hasAccess: false, reason: 'payment_required', until: null });

  const payments = '{ payments { nodes { rowId status amount totalAmount currency courseId } } }';
  expect((await ok(payments, {}, asBuyer)).payments.nodes).toEqual([
    { rowId: paymentId, status: 'succeeded', amount: '250.00', totalAmount: '250.00', currency: 'EGP', courseId: c.id },
  ]);
  expect((await ok(payments, {}, asOther)).payments.nodes).toEqual([]);

  const enroll = 'mutation($c: UUID!) { enroll(input: {courseId: $c}) { enrollment { status accessReason } } }';
  expect((await ok(enroll, { c: c.id }, asBuyer)).enroll.enrollment).toEqual({ status: 'active', accessReason: 'purchase' });
  const denied = await api.graphql(enroll, { variables: { c: c.id }, token: asOther });
  expect(denied.body.errors?.[0]?.extensions?.code).toBe('PAYRQ');

  const content = 'query($c: UUID!) { lessons(condition: {courseId: $c}) { totalCount } }';
  expect((await ok(content, { c: c.id }, asBuyer)).lessons.totalCount).toBe(2);
  expect((await ok(content, { c: c.id }, asOther)).lessons.totalCount).toBe(0);

  const revenue = 'query($c: UUID!) { course(rowId: $c) { revenue { currency paymentsCount netAmount } } }';
  expect((await ok(revenue, { c: c.id }, accessToken(api.config, teacher))).course.revenue).toEqual([
    { currency: 'EGP', paymentsCount: 1, netAmount: '250.00' },
  ]);
});

it("plans are public; subscriptions are their subscriber's; webhook events are for admins only", async () => {
  const planId = await plan(db.root, { categories: ['design'] });
  const subscriber = await user(db.root);
  const admin = await user(db.root, 'admin');
  const subscriptionId = await subscription(db.root, subscriber.id, planId);
  await db.root.query(
    "insert into lms_private.payment_webhook_events (stripe_event_id, event_type, payload, status, error_message) values ('evt_api_1', 'invoice.paid', '{}', 'failed', 'no such subscription')",
  );

  const plans = await ok('{ plans { nodes { rowId interval amount currency grants grantedCategories } } }', {});
  expect(plans.plans.nodes).toContainEqual({
    rowId: planId,
    interval: 'month',
    amount: '150.00',
    currency: 'EGP',
    grants: 'categories',
    grantedCategories: ['design'],
  });

  const mine = '{ planSubscriptions { nodes { rowId status planName currentPeriodEnd canceledAt } } }';
  expect((await ok(mine, {}, accessToken(api.config, subscriber))).planSubscriptions.nodes).toEqual([
    { rowId: subscriptionId, status: 'active', planName: expect.stringMatching(/^Plan /), currentPeriodEnd: expect.any(String), canceledAt: null },
  ]);
  expect((await ok(mine, {}, accessToken(api.config, await user(db.root)))).planSubscriptions.nodes).toEqual([]);

  const events = '{ webhookEvents(condition: {status: "failed"}) { nodes { stripeEventId eventType status errorMessage } } }';
  expect((await ok(events, {}, accessToken(api.config, admin))).webhookEvents.nodes).toEqual([
    { stripeEventId: 'evt_api_1', eventType: 'invoice.paid', status: 'failed', errorMessage: 'no such subscription' },
  ]);
  const refused = await api.graphql(events, { token: accessToken(api.config, subscriber) });
  expect(refused.body.errors?.[0]?.extensions?.code).toBe('42501');
});
