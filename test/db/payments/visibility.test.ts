import { createTestDatabase, type TestDatabase, expectCode, asRoot } from '../../support/db.ts';
import { enrollAs, publishedCourse, user } from '../../support/courses.ts';
import { coursePayment, plan, subscription } from '../../support/payments.ts';

// Who sees which payments, subscriptions, plans and webhook events, switching roles in SQL.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const count = async (tx: { query: (sql: string) => Promise<{ rows: { n: number }[] }> }, table: string) =>
  (await tx.query(`select count(*)::int as n from ${table}`)).rows[0]!.n;

describe('payments and subscriptions', () => {
  it("a student sees their own and none of another student's, by any path; admins see all", () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1, { price: 100 });
      const a = await user(tx);
      const b = await user(tx);
      const admin = await user(tx, 'admin');
      const paymentId = await coursePayment(tx, a.id, c.id);
      const subscriptionId = await subscription(tx, a.id, await plan(tx));
      const e = await enrollAs(tx, a, c.id);

      expect(await count(tx, 'lms_public.payments')).toBe(1);
      expect(await count(tx, 'lms_public.subscriptions')).toBe(1);

      await tx.becomeUser(b);
      expect(await count(tx, 'lms_public.payments')).toBe(0);
      expect(await count(tx, 'lms_public.subscriptions')).toBe(0);
      expect((await tx.query('select * from lms_public.payments where id = $1', [paymentId])).rows).toEqual([]);
      // Through A's enrollment, which names the payment that justifies it: B cannot see the enrollment either.
      expect((await tx.query('select * from lms_public.enrollments where id = $1', [e.id])).rows).toEqual([]);
      // courseAccess answers for the caller only.
      expect((await tx.query('select has_access, payment_id from lms_public.course_access($1)', [c.id])).rows).toEqual([
        { has_access: false, payment_id: null },
      ]);
      // The rule itself, which answers for anyone, is not theirs to call.
      await expectCode(tx, 'select lms_private.course_access_of($1, $2)', [a.id, c.id], '42501');
      // Nor may they write a payment or subscription, even their own.
      await expectCode(tx, "update lms_public.payments set status = 'refunded' where id = $1", [paymentId], '42501');
      await expectCode(tx, 'insert into lms_public.subscriptions (user_id, plan_name, plan_price_id) values ($1, $2, $3)', [b.id, 'x', 'y'], '42501');

      await tx.becomeUser(a);
      expect((await tx.query('select id from lms_public.payments')).rows).toEqual([{ id: paymentId }]);
      expect((await tx.query('select id from lms_public.subscriptions')).rows).toEqual([{ id: subscriptionId }]);

      await tx.becomeUser(admin);
      expect(await count(tx, 'lms_public.payments')).toBe(1);
      expect(await count(tx, 'lms_public.subscriptions')).toBe(1);

      await tx.becomeAnonymous();
      await expectCode(tx, 'select * from lms_public.payments', [], '42501');
      await expectCode(tx, 'select * from lms_public.subscriptions', [], '42501');
    }));

  it("an instructor sees their course's revenue figures, not the payments behind them; another instructor sees nothing", () =>
    db.transaction(async (tx) => {
      const { course: c, teacher } = await publishedCourse(tx, 1, { price: 100 });
      const other = await user(tx, 'instructor');
      const first = await coursePayment(tx, (await user(tx)).id, c.id, 'succeeded', 100);
      await coursePayment(tx, (await user(tx)).id, c.id, 'succeeded', 100);
      await coursePayment(tx, (await user(tx)).id, c.id, 'pending', 100);
      await asRoot(tx, (q) => q.query("update lms_public.payments set status = 'partially_refunded', amount_refunded = 25 where id = $1", [first]));
      const revenue = 'select r.* from lms_public.courses c, lms_public.courses_revenue(c) r where c.id = $1';

      await tx.becomeUser(teacher);
      expect(await count(tx, 'lms_public.payments')).toBe(0);
      expect((await tx.query(revenue, [c.id])).rows).toEqual([
        { currency: 'EGP', payments_count: 2, gross_amount: '200.00', refunded_amount: '25.00', net_amount: '175.00' },
      ]);
      await tx.becomeUser(other);
      expect((await tx.query(revenue, [c.id])).rows).toEqual([]);
    }));
});

describe('plans', () => {
  it('everyone reads the plans on sale; admins also withdrawn ones, and alone manage them', () =>
    db.transaction(async (tx) => {
      const onSale = await plan(tx);
      await plan(tx, { isActive: false });
      const admin = await user(tx, 'admin');
      const student = await user(tx);
      await tx.becomeAnonymous();
      expect((await tx.query('select id from lms_public.plans')).rows).toEqual([{ id: onSale }]);
      await tx.becomeUser(student);
      expect((await tx.query('select id from lms_public.plans')).rows).toEqual([{ id: onSale }]);
      await expectCode(tx, 'update lms_public.plans set amount = 1 where id = $1', [onSale], '42501');
      await expectCode(
        tx,
        "insert into lms_public.plans (name, stripe_price_id, interval, amount, grants) values ('x', 'price_x', 'month', 1, 'all_courses')",
        [],
        '42501',
      );
      await tx.becomeUser(admin);
      expect(await count(tx, 'lms_public.plans')).toBe(2);
      await tx.query(
        "insert into lms_public.plans (name, stripe_price_id, interval, amount, grants, granted_categories) values ('Design', 'price_design', 'year', 900, 'categories', '{design}')",
      );
      await tx.query('update lms_public.plans set is_active = false where id = $1', [onSale]);
      expect(await count(tx, 'lms_public.plans')).toBe(3);
      // What a plan grants is consistent with its kind.
      await expectCode(
        tx,
        "insert into lms_public.plans (name, stripe_price_id, interval, amount, grants) values ('Empty', 'price_empty', 'month', 1, 'categories')",
        [],
        '23514',
      );
    }));
});

describe('webhook events', () => {
  it('stay private: admins read them, without payloads, through webhook_events; nobody else at all', () =>
    db.transaction(async (tx) => {
      await asRoot(tx, (q) =>
        q.query(
          "insert into lms_private.payment_webhook_events (stripe_event_id, event_type, payload, status, error_message) values ('evt_1', 'charge.refunded', '{}', 'failed', 'boom')",
        ),
      );
      const admin = await user(tx, 'admin');
      const student = await user(tx);
      const instructor = await user(tx, 'instructor');
      await tx.becomeUser(admin);
      expect((await tx.query('select stripe_event_id, event_type, status, error_message from lms_public.webhook_events')).rows).toEqual([
        { stripe_event_id: 'evt_1', event_type: 'charge.refunded', status: 'failed', error_message: 'boom' },
      ]);
      await expectCode(tx, 'select payload from lms_public.webhook_events', [], '42703');
      await expectCode(tx, 'select * from lms_private.payment_webhook_events', [], '42501');
      for (const who of [student, instructor]) {
        await tx.becomeUser(who);
        await expectCode(tx, 'select * from lms_public.webhook_events', [], '42501');
        await expectCode(tx, 'select * from lms_private.payment_webhook_events', [], '42501');
      }
    }));
});
