import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { accessToken, startTestApi, type TestApi } from '../../support/api.ts';
import { course, lessons, user } from '../../support/courses.ts';
import { coursePayment, plan } from '../../support/payments.ts';
import { startFakeStripe, type FakeStripe } from '../../support/stripe/fake-api.ts';
import { checkoutSession, event, signed } from '../../support/stripe/events.ts';

// createCourseCheckout and createSubscriptionCheckout through the real `stripe` client, against
// a fake Stripe API (STRIPE_API_BASE); then the purchase journey through the signed webhook.

const SECRET = 'whsec_checkout_test';
let db: TestDatabase;
let api: TestApi;
let stripe: FakeStripe;
beforeAll(async () => {
  db = await createTestDatabase();
  stripe = await startFakeStripe();
  api = await startTestApi(db, { env: { STRIPE_SECRET_KEY: 'sk_test_fake', STRIPE_WEBHOOK_SECRET: SECRET, STRIPE_API_BASE: stripe.url } });
});
afterAll(async () => {
  await api.close();
  await stripe.close();
  await db.close();
});

async function call(query: string, variables: Record<string, unknown>, token: string) {
  const { status, body } = await api.graphql(query, { variables, token });
  expect(status).toBe(200);
  return body;
}
const courseCheckout = 'mutation($c: UUID!) { createCourseCheckout(input: {courseId: $c}) { checkoutUrl paymentId } }';

it('records a pending payment first, then a Checkout Session in payment mode that names it; one customer per user', async () => {
  const teacher = await user(db.root, 'instructor');
  const c = await course(db.root, teacher.id, { price: 250.5, title: 'Paid SQL' });
  const other = await course(db.root, teacher.id, { price: 99 });
  const student = await user(db.root);
  const token = accessToken(api.config, student);

  const first = (await call(courseCheckout, { c: c.id }, token)).data.createCourseCheckout;
  expect(first.checkoutUrl).toMatch(/^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);
  const { rows } = await db.root.query(
    'select status, amount, total_amount, currency, payment_type, course_id, stripe_checkout_session_id from lms_public.payments where id = $1',
    [first.paymentId],
  );
  const sessionId = first.checkoutUrl.split('/').pop();
  expect(rows).toEqual([
    {
      status: 'pending',
      amount: '250.50',
      total_amount: '250.50',
      currency: 'EGP',
      payment_type: 'course',
      course_id: c.id,
      stripe_checkout_session_id: sessionId,
    },
  ]);

  const created = stripe.requests.filter((r) => r.path === '/v1/checkout/sessions');
  expect(created).toHaveLength(1);
  expect(created[0]).toMatchObject({
    idempotencyKey: `checkout:${first.paymentId}`,
    apiVersion: '2026-10-28.endive',
    params: expect.objectContaining({
      mode: 'payment',
      client_reference_id: first.paymentId,
      'line_items[0][price_data][unit_amount]': '25050',
      'line_items[0][price_data][currency]': 'egp',
      'line_items[0][price_data][product_data][name]': 'Paid SQL',
      'metadata[payment_id]': first.paymentId,
      'metadata[user_id]': student.id,
      'metadata[course_id]': c.id,
      'payment_intent_data[metadata][payment_id]': first.paymentId,
    }),
  });
  // No payment method types: the parameter is gone in this API version.
  expect(Object.keys(created[0]!.params).some((k) => k.startsWith('payment_method_types'))).toBe(false);

  await call(courseCheckout, { c: other.id }, token);
  const customers = stripe.requests.filter((r) => r.path === '/v1/customers');
  expect(customers).toHaveLength(1);
  expect(customers[0]).toMatchObject({ idempotencyKey: `customer:${student.id}`, params: { email: student.email, 'metadata[user_id]': student.id } });
  const sessions = stripe.requests.filter((r) => r.path === '/v1/checkout/sessions');
  expect(sessions[1]!.params.customer).toBe(sessions[0]!.params.customer);
});

it('refuses a free course, one already bought, a draft, and anonymous callers', async () => {
  const teacher = await user(db.root, 'instructor');
  const free = await course(db.root, teacher.id);
  const draft = await course(db.root, teacher.id, { price: 10, isPublished: false });
  const bought = await course(db.root, teacher.id, { price: 10 });
  const student = await user(db.root);
  await coursePayment(db.root, student.id, bought.id, 'succeeded', 10);
  const token = accessToken(api.config, student);
  const codeOf = async (courseId: string, t: string) => (await call(courseCheckout, { c: courseId }, t)).errors?.[0]?.extensions?.code;
  expect(await codeOf(free.id, token)).toBe('INVAL');
  expect(await codeOf(bought.id, token)).toBe('INVAL');
  expect(await codeOf(draft.id, token)).toBe('NTFND');
  expect((await api.graphql(courseCheckout, { variables: { c: free.id } })).body.errors[0].extensions.code).toBe('NOAUT');
  // Only the purchase made before: no refused checkout left a pending payment.
  expect((await db.root.query('select count(*)::int as n from lms_public.payments where user_id = $1', [student.id])).rows).toEqual([{ n: 1 }]);
});

it("the journey: checkout, Stripe's signed event, enroll, lessons open", async () => {
  const teacher = await user(db.root, 'instructor');
  const c = await course(db.root, teacher.id, { price: 100 });
  await lessons(db.root, c.id, 2);
  const student = await user(db.root);
  const token = accessToken(api.config, student);
  const { paymentId, checkoutUrl } = (await call(courseCheckout, { c: c.id }, token)).data.createCourseCheckout;
  const stored = stripe.sessions.get(checkoutUrl.split('/').pop())!;

  // Stripe, once paid, sends the session back completed, with the metadata we gave it.
  const session = checkoutSession({ paymentId, userId: student.id, courseId: c.id, customer: stored.customer as string });
  const completed = event('checkout.session.completed', {
    ...session,
    id: stored.id,
    client_reference_id: stored.client_reference_id,
    metadata: stored.metadata,
  });
  const { body, signature } = signed(completed, SECRET);
  expect((await fetch(`${api.url}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': signature }, body })).status).toBe(200);
  // The worker's step, run here in SQL: this test is about the API.
  const client = await db.root.connect();
  try {
    await client.query("select set_config('lms.past_due_grace_days', '3', false)");
    expect((await client.query('select lms_private.apply_stripe_event($1) as status', [completed.id])).rows).toEqual([{ status: 'processed' }]);
  } finally {
    client.release();
  }

  const seen = await call(
    'query($c: UUID!) { courseAccess(courseId: $c) { hasAccess reason } lessons(condition: {courseId: $c}) { totalCount } }',
    { c: c.id },
    token,
  );
  expect(seen.data).toEqual({ courseAccess: { hasAccess: true, reason: 'purchase' }, lessons: { totalCount: 2 } });
  const enrolled = await call('mutation($c: UUID!) { enroll(input: {courseId: $c}) { enrollment { status accessPaymentId } } }', { c: c.id }, token);
  expect(enrolled.data.enroll.enrollment).toEqual({ status: 'active', accessPaymentId: paymentId });
});

it('createSubscriptionCheckout records an incomplete subscription and a session in subscription mode with its price', async () => {
  const planId = await plan(db.root);
  const {
    rows: [p],
  } = await db.root.query('select stripe_price_id from lms_public.plans where id = $1', [planId]);
  const student = await user(db.root);
  const token = accessToken(api.config, student);
  const mutation = 'mutation($p: UUID!) { createSubscriptionCheckout(input: {planId: $p}) { checkoutUrl subscriptionId } }';
  const { subscriptionId } = (await call(mutation, { p: planId }, token)).data.createSubscriptionCheckout;
  const { rows } = await db.root.query('select status, plan_id, stripe_subscription_id, user_id from lms_public.subscriptions where id = $1', [subscriptionId]);
  expect(rows).toEqual([{ status: 'incomplete', plan_id: planId, stripe_subscription_id: null, user_id: student.id }]);
  const sent = stripe.requests.filter((r) => r.path === '/v1/checkout/sessions').pop()!;
  expect(sent).toMatchObject({
    idempotencyKey: `checkout:${subscriptionId}`,
    params: expect.objectContaining({
      mode: 'subscription',
      client_reference_id: subscriptionId,
      'line_items[0][price]': p.stripe_price_id,
      'subscription_data[metadata][subscription_id]': subscriptionId,
    }),
  });
});
