import { createTestDatabase, type TestDatabase, type Transaction, asRoot, expectCode } from '../../support/db.ts';
import { enrollAs, publishedCourse, user } from '../../support/courses.ts';
import { accessTo, coursePayment, plan } from '../../support/payments.ts';
import { charge, checkoutSession, event, invoice, paymentIntent, subscriptionObject } from '../../support/stripe/events.ts';
import { deliverInSql as deliver, eventRow } from '../../support/stripe/deliver.ts';

// Each handled Stripe event applied in SQL from its payload, as the worker applies it: effects,
// staleness, order, failures and replay.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const payment = (tx: Transaction, id: string) => asRoot(tx, async (q) => (await q.query('select * from lms_public.payments where id = $1', [id])).rows[0]);
const enrollmentOf = (tx: Transaction, studentId: string, courseId: string) =>
  asRoot(tx, async (q) => (await q.query('select * from lms_public.enrollments where student_id = $1 and course_id = $2', [studentId, courseId])).rows);
const sub = (tx: Transaction, id: string) => asRoot(tx, async (q) => (await q.query('select * from lms_public.subscriptions where id = $1', [id])).rows[0]);

async function pendingPurchase(tx: Transaction, price = 100) {
  const { course: c } = await publishedCourse(tx, 2, { price });
  const student = await user(tx);
  const paymentId = await coursePayment(tx, student.id, c.id, 'pending', price);
  return { course: c, student, paymentId };
}

describe('checkout.session.completed (payment mode)', () => {
  it("marks the payment succeeded with Stripe's amounts and tax in major units, and enrolls the buyer once", () =>
    db.transaction(async (tx) => {
      const { course: c, student, paymentId } = await pendingPurchase(tx);
      const session = checkoutSession({ paymentId, userId: student.id, courseId: c.id, amountTotal: 11400, amountTax: 1400 });
      expect(await deliver(tx, event('checkout.session.completed', session))).toBe('processed');
      expect(await payment(tx, paymentId)).toMatchObject({
        status: 'succeeded',
        total_amount: '114.00',
        tax_amount: '14.00',
        amount: '100.00',
        currency: 'EGP',
        stripe_checkout_session_id: session.id,
        stripe_payment_intent_id: session.payment_intent,
        processed_at: expect.any(Date),
      });
      expect(await enrollmentOf(tx, student.id, c.id)).toEqual([
        expect.objectContaining({ status: 'active', access_payment_id: paymentId, access_reason: 'purchase' }),
      ]);
      // A second, distinct event for the same session (Stripe may send it): still one enrollment.
      expect(await deliver(tx, event('checkout.session.completed', session))).toBe('processed');
      expect(await enrollmentOf(tx, student.id, c.id)).toHaveLength(1);
    }));

  it('while payment_status is unpaid grants nothing; async_payment_succeeded then does', () =>
    db.transaction(async (tx) => {
      const { course: c, student, paymentId } = await pendingPurchase(tx);
      const session = checkoutSession({ paymentId, userId: student.id, courseId: c.id, paymentStatus: 'unpaid' });
      expect(await deliver(tx, event('checkout.session.completed', session))).toBe('processed');
      expect(await payment(tx, paymentId)).toMatchObject({ status: 'pending', stripe_status: 'unpaid' });
      expect(await enrollmentOf(tx, student.id, c.id)).toEqual([]);
      expect(await deliver(tx, event('checkout.session.async_payment_succeeded', { ...session, payment_status: 'paid' }))).toBe('processed');
      expect(await payment(tx, paymentId)).toMatchObject({ status: 'succeeded' });
      expect(await enrollmentOf(tx, student.id, c.id)).toHaveLength(1);
    }));

  it('async_payment_failed fails the payment and grants nothing', () =>
    db.transaction(async (tx) => {
      const { course: c, student, paymentId } = await pendingPurchase(tx);
      const session = checkoutSession({ paymentId, userId: student.id, courseId: c.id, paymentStatus: 'unpaid' });
      await deliver(tx, event('checkout.session.completed', session));
      expect(await deliver(tx, event('checkout.session.async_payment_failed', session))).toBe('processed');
      expect(await payment(tx, paymentId)).toMatchObject({ status: 'failed' });
      await tx.becomeUser(student);
      expect(await accessTo(tx, c.id)).toMatchObject({ has_access: false, reason: 'payment_required' });
    }));

  it('handles zero- and three-decimal currencies in minor units', () =>
    db.transaction(async (tx) => {
      const { course: c, student, paymentId } = await pendingPurchase(tx);
      await deliver(
        tx,
        event('checkout.session.completed', checkoutSession({ paymentId, userId: student.id, courseId: c.id, amountTotal: 1500, currency: 'jpy' })),
      );
      expect(await payment(tx, paymentId)).toMatchObject({ total_amount: '1500.00', currency: 'JPY' });
      const { rows } = await tx.query(
        "select lms_private.to_major_units(12345, 'kwd') as kwd, lms_private.to_minor_units(250.5, 'egp') as egp, lms_private.to_minor_units(99, 'JPY') as jpy",
      );
      expect(rows[0]).toEqual({ kwd: '12.3450000000000000', egp: '25050', jpy: '99' });
      await expectCode(tx, "select lms_private.to_minor_units(1.5, 'JPY')", [], 'INVAL');
    }));
});

describe('payment_intent events', () => {
  it('succeeded before the checkout event finds the payment by metadata and grants access; payment_failed records why', () =>
    db.transaction(async (tx) => {
      const { course: c, student, paymentId } = await pendingPurchase(tx);
      expect(await deliver(tx, event('payment_intent.succeeded', paymentIntent({ id: 'pi_early', paymentId, status: 'succeeded' })))).toBe('processed');
      expect(await payment(tx, paymentId)).toMatchObject({ status: 'succeeded', stripe_payment_intent_id: 'pi_early' });
      expect(await enrollmentOf(tx, student.id, c.id)).toHaveLength(1);

      const other = await pendingPurchase(tx);
      const failed = paymentIntent({ id: 'pi_declined', paymentId: other.paymentId, status: 'requires_payment_method', failure: 'Your card was declined.' });
      expect(await deliver(tx, event('payment_intent.payment_failed', failed))).toBe('processed');
      expect(await payment(tx, other.paymentId)).toMatchObject({ status: 'failed', failure_message: 'Your card was declined.' });
    }));

  it('for a PaymentIntent that is not ours is ignored', () =>
    db.transaction(async (tx) => {
      expect(await deliver(tx, event('payment_intent.succeeded', paymentIntent({ id: 'pi_elsewhere', status: 'succeeded' })))).toBe('ignored');
    }));
});

describe('charge.refunded', () => {
  async function paid(tx: Transaction) {
    const p = await pendingPurchase(tx);
    const session = checkoutSession({ paymentId: p.paymentId, userId: p.student.id, courseId: p.course.id, paymentIntent: `pi_${p.paymentId.slice(0, 8)}` });
    await deliver(tx, event('checkout.session.completed', session, Math.floor(Date.now() / 1000) - 60));
    return { ...p, intent: session.payment_intent as string };
  }

  it('in part keeps access; in full removes it at once; a later partial event is stale', () =>
    db.transaction(async (tx) => {
      const { course: c, student, paymentId, intent } = await paid(tx);
      const t = Math.floor(Date.now() / 1000);
      expect(await deliver(tx, event('charge.refunded', charge({ paymentIntent: intent, amountRefunded: 4000 }), t))).toBe('processed');
      expect(await payment(tx, paymentId)).toMatchObject({ status: 'partially_refunded', amount_refunded: '40.00' });
      expect(await enrollmentOf(tx, student.id, c.id)).toEqual([expect.objectContaining({ status: 'active' })]);
      expect(await deliver(tx, event('charge.refunded', charge({ paymentIntent: intent, amountRefunded: 10000 }), t + 1))).toBe('processed');
      expect(await payment(tx, paymentId)).toMatchObject({ status: 'refunded', amount_refunded: '100.00' });
      expect(await enrollmentOf(tx, student.id, c.id)).toEqual([expect.objectContaining({ status: 'expired', access_reason: 'refunded' })]);
      // Delivered late: the partial refund and the original success change nothing now.
      expect(await deliver(tx, event('charge.refunded', charge({ paymentIntent: intent, amountRefunded: 4000 }), t))).toBe('stale');
      expect(await deliver(tx, event('payment_intent.succeeded', paymentIntent({ id: intent, status: 'succeeded' }), t - 30))).toBe('stale');
      expect(await payment(tx, paymentId)).toMatchObject({ status: 'refunded', amount_refunded: '100.00' });
    }));

  it('of one purchase leaves a second valid purchase of the same course in force', () =>
    db.transaction(async (tx) => {
      const { course: c, student, intent } = await paid(tx);
      const secondId = await coursePayment(tx, student.id, c.id, 'pending');
      await deliver(tx, event('checkout.session.completed', checkoutSession({ paymentId: secondId, userId: student.id, courseId: c.id })));
      await deliver(tx, event('charge.refunded', charge({ paymentIntent: intent, amountRefunded: 10000 })));
      expect(await enrollmentOf(tx, student.id, c.id)).toEqual([expect.objectContaining({ status: 'active', access_payment_id: secondId })]);
    }));

  it('before the checkout event that links its PaymentIntent fails, and is kept for the retry', () =>
    db.transaction(async (tx) => {
      const evt = event('charge.refunded', charge({ paymentIntent: 'pi_unknown', amountRefunded: 100 }));
      expect(await deliver(tx, evt)).toBe('failed');
      expect(await eventRow(tx, evt.id)).toMatchObject({
        status: 'failed',
        error_message: 'no payment for charge ' + (evt.data.object.id as string) + ' (payment intent pi_unknown)',
        processed_at: null,
      });
    }));
});

describe('subscriptions', () => {
  const t0 = Math.floor(Date.now() / 1000) - 600;
  const day = 86_400;

  async function incomplete(tx: Transaction) {
    const student = await user(tx);
    const planId = await plan(tx);
    const subscriptionId = await asRoot(
      tx,
      async (q) =>
        (
          await q.query(
            `insert into lms_public.subscriptions (user_id, plan_id, plan_name, plan_price_id, status)
         select $1, id, name, stripe_price_id, 'incomplete' from lms_public.plans where id = $2 returning id`,
            [student.id, planId],
          )
        ).rows[0].id as string,
    );
    return { student, planId, subscriptionId, stripeId: `sub_${subscriptionId.slice(0, 8)}` };
  }

  const finalState = (s: Record<string, unknown>) => ({
    status: s.status,
    stripe_status: s.stripe_status,
    stripe_subscription_id: s.stripe_subscription_id,
    current_period_end: s.current_period_end,
    cancel_at_period_end: s.cancel_at_period_end,
  });

  it('created, updated and deleted carry the mapped and raw status and the period from the items; access follows', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1, { price: 100 });
      const { student, subscriptionId, stripeId } = await incomplete(tx);
      const base = { stripeId, subscriptionId, periodStart: t0, periodEnd: t0 + 30 * day };
      expect(await deliver(tx, event('customer.subscription.created', subscriptionObject({ ...base, status: 'trialing' }), t0))).toBe('processed');
      expect(await sub(tx, subscriptionId)).toMatchObject({
        status: 'trial',
        stripe_status: 'trialing',
        stripe_subscription_id: stripeId,
        current_period_end: new Date((t0 + 30 * day) * 1000),
      });
      const e = await enrollAs(tx, student, c.id);
      expect(e.status).toBe('active');
      await deliver(tx, event('customer.subscription.updated', subscriptionObject({ ...base, status: 'active', cancelAtPeriodEnd: true }), t0 + 1));
      expect(await sub(tx, subscriptionId)).toMatchObject({ status: 'active', cancel_at_period_end: true });
      await deliver(tx, event('customer.subscription.deleted', subscriptionObject({ ...base, status: 'canceled', canceledAt: t0 + 2 }), t0 + 2));
      expect(await sub(tx, subscriptionId)).toMatchObject({ status: 'canceled', canceled_at: new Date((t0 + 2) * 1000) });
      expect(await enrollmentOf(tx, student.id, c.id)).toEqual([expect.objectContaining({ status: 'expired', access_reason: 'subscription_ended' })]);
      // A stale update (older than the deletion) cannot bring it back.
      expect(await deliver(tx, event('customer.subscription.updated', subscriptionObject({ ...base, status: 'active' }), t0 + 1))).toBe('stale');
      expect(await sub(tx, subscriptionId)).toMatchObject({ status: 'canceled' });
    }));

  it('reach the same final state in order, shuffled, and with invoice.paid before customer.subscription.created', async () => {
    const run = (order: number[]) =>
      db.transaction(async (tx) => {
        const { subscriptionId, stripeId } = await incomplete(tx);
        const base = { stripeId, subscriptionId, periodStart: t0, periodEnd: t0 + 30 * day };
        const events = [
          event('customer.subscription.created', subscriptionObject({ ...base, status: 'incomplete' }), t0),
          event('invoice.paid', invoice({ stripeSubscription: stripeId, subscriptionId, status: 'paid', amount: 15000, tax: 2100 }), t0 + 1),
          event('customer.subscription.updated', subscriptionObject({ ...base, status: 'active' }), t0 + 2),
          event('customer.subscription.updated', subscriptionObject({ ...base, status: 'past_due' }), t0 + 3),
          event(
            'customer.subscription.updated',
            subscriptionObject({ ...base, status: 'active', periodStart: t0 + 30 * day, periodEnd: t0 + 60 * day }),
            t0 + 4,
          ),
        ];
        const statuses = [];
        for (const i of order) statuses.push(await deliver(tx, events[i]!));
        const payments = await asRoot(
          tx,
          async (q) =>
            (
              await q.query('select status, amount, tax_amount, total_amount, payment_type from lms_public.payments where subscription_id = $1', [
                subscriptionId,
              ])
            ).rows,
        );
        return { state: finalState(await sub(tx, subscriptionId)), payments, statuses, stripeId };
      });
    const inOrder = await run([0, 1, 2, 3, 4]);
    expect(inOrder.statuses).toEqual(['processed', 'processed', 'processed', 'processed', 'processed']);
    expect(inOrder.state).toMatchObject({ status: 'active', stripe_status: 'active', current_period_end: new Date((t0 + 60 * day) * 1000) });
    expect(inOrder.payments).toEqual([{ status: 'succeeded', amount: '129.00', tax_amount: '21.00', total_amount: '150.00', payment_type: 'subscription' }]);
    // Whatever arrives after a newer update of the subscription is stale and changes nothing.
    for (const order of [
      [1, 0, 2, 3, 4],
      [4, 2, 3, 1, 0],
      [3, 4, 1, 0, 2],
      [1, 4, 0, 3, 2],
    ]) {
      const shuffled = await run(order);
      expect({ ...shuffled.state, stripe_subscription_id: inOrder.stripeId }).toEqual({ ...inOrder.state, stripe_subscription_id: inOrder.stripeId });
      expect(shuffled.payments).toEqual(inOrder.payments);
    }
  });

  it('invoice.payment_failed records the failed payment of the invoice; invoices of no subscription are ignored', () =>
    db.transaction(async (tx) => {
      const { subscriptionId, stripeId } = await incomplete(tx);
      const failed = invoice({ stripeSubscription: stripeId, subscriptionId, status: 'open', amount: 15000 });
      expect(await deliver(tx, event('invoice.payment_failed', failed))).toBe('processed');
      expect(
        await asRoot(tx, async (q) => (await q.query('select status, total_amount from lms_public.payments where stripe_invoice_id = $1', [failed.id])).rows),
      ).toEqual([{ status: 'failed', total_amount: '150.00' }]);
      const oneOff = { ...invoice({ stripeSubscription: 'x', status: 'paid' }), parent: null };
      expect(await deliver(tx, event('invoice.paid', oneOff))).toBe('ignored');
    }));
});

describe('the event log', () => {
  it('an unhandled type is ignored; a redelivery records nothing new and applies nothing twice', () =>
    db.transaction(async (tx) => {
      const ignored = event('customer.created', { id: 'cus_1', object: 'customer' });
      expect(await deliver(tx, ignored)).toBe('ignored');
      expect(await eventRow(tx, ignored.id)).toMatchObject({ status: 'ignored', processed_at: expect.any(Date) });
      const { course: c, student, paymentId } = await pendingPurchase(tx);
      const completed = event('checkout.session.completed', checkoutSession({ paymentId, userId: student.id, courseId: c.id }));
      for (let i = 0; i < 10; i++) expect(await deliver(tx, completed)).toBe('processed');
      const counts = await asRoot(
        tx,
        async (q) =>
          (
            await q.query(
              `select (select count(*)::int from lms_private.payment_webhook_events where stripe_event_id = $1) as events,
                  (select count(*)::int from graphile_worker.jobs where key = 'payments__apply_event:' || $1) as jobs,
                  (select count(*)::int from lms_public.enrollments where student_id = $2) as enrollments`,
              [completed.id, student.id],
            )
          ).rows[0],
      );
      expect(counts).toEqual({ events: 1, jobs: 1, enrollments: 1 });
    }));

  it('an admin replays a failed event once its cause is fixed; replaying a processed one changes nothing; others may not', () =>
    db.transaction(async (tx) => {
      const { course: c, student, paymentId } = await pendingPurchase(tx);
      const intent = 'pi_replay';
      const refund = event('charge.refunded', charge({ paymentIntent: intent, amountRefunded: 10000 }), Math.floor(Date.now() / 1000) + 5);
      expect(await deliver(tx, refund)).toBe('failed');
      const completed = event('checkout.session.completed', checkoutSession({ paymentId, userId: student.id, courseId: c.id, paymentIntent: intent }));
      expect(await deliver(tx, completed)).toBe('processed');
      const admin = await user(tx, 'admin');
      await tx.becomeUser(student);
      await expectCode(tx, 'select * from lms_public.replay_webhook_event($1)', [refund.id], '42501');
      await tx.becomeUser(admin);
      expect((await tx.query('select stripe_event_id, status, error_message from lms_public.replay_webhook_event($1)', [refund.id])).rows).toEqual([
        { stripe_event_id: refund.id, status: 'processed', error_message: null },
      ]);
      expect(await payment(tx, paymentId)).toMatchObject({ status: 'refunded' });
      const before = await payment(tx, paymentId);
      expect((await tx.query('select status from lms_public.replay_webhook_event($1)', [completed.id])).rows).toEqual([{ status: 'processed' }]);
      expect(await payment(tx, paymentId)).toEqual(before);
      await expectCode(tx, 'select * from lms_public.replay_webhook_event($1)', ['evt_nope'], 'NTFND');
    }));
});
