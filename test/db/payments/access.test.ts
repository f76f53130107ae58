import { createTestDatabase, type TestDatabase, type Transaction, expectCode, asRoot } from '../../support/db.ts';
import { enrollAs, enrollmentRow, publishedCourse, user } from '../../support/courses.ts';
import { accessTo, coursePayment, plan, subscription } from '../../support/payments.ts';

// The access rule (lms_private.course_access_of) and the enrollments that follow it: purchases,
// refunds, subscriptions, lapses with no event, and what an expired enrollment keeps.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const enroll = 'select * from lms_public.enroll($1)';
const visibleLessons = async (tx: Transaction, courseId: string) =>
  (await tx.query<{ n: number }>('select count(*)::int as n from lms_public.lessons where course_id = $1 and not is_preview', [courseId])).rows[0]!.n;
const refund = (tx: Transaction, paymentId: string, status: 'refunded' | 'partially_refunded', amount: number) =>
  asRoot(tx, (q) => q.query('update lms_public.payments set status = $2, amount_refunded = $3 where id = $1', [paymentId, status, amount]));

async function paidCourse(tx: Transaction, category = 'design') {
  const { course: c, lessons } = await publishedCourse(tx, 2, { price: 100 });
  await asRoot(tx, (q) => q.query('update lms_public.courses set category = $2 where id = $1', [c.id, category]));
  return { course: c, lessons };
}

describe('a purchase', () => {
  it('is required for a paid course: courseAccess says payment_required, enroll PAYRQ, no lessons', () =>
    db.transaction(async (tx) => {
      const { course: c } = await paidCourse(tx);
      const student = await user(tx);
      await tx.becomeUser(student);
      expect(await accessTo(tx, c.id)).toMatchObject({ has_access: false, reason: 'payment_required' });
      await expectCode(tx, enroll, [c.id], 'PAYRQ', /costs 100\.00 EGP/);
      expect(await visibleLessons(tx, c.id)).toBe(0);
    }));

  it('grants access for good: enroll records the payment that justifies it, and the lessons open', () =>
    db.transaction(async (tx) => {
      const { course: c } = await paidCourse(tx);
      const student = await user(tx);
      const paymentId = await coursePayment(tx, student.id, c.id);
      await tx.becomeUser(student);
      expect(await accessTo(tx, c.id)).toMatchObject({ has_access: true, reason: 'purchase', until: null, payment_id: paymentId });
      const e = await enrollAs(tx, student, c.id);
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ status: 'active', access_payment_id: paymentId, access_reason: 'purchase' });
      expect(await visibleLessons(tx, c.id)).toBe(2);
    }));

  it('a pending or failed payment grants nothing', () =>
    db.transaction(async (tx) => {
      const { course: c } = await paidCourse(tx);
      const student = await user(tx);
      await coursePayment(tx, student.id, c.id, 'pending');
      await coursePayment(tx, student.id, c.id, 'failed');
      await tx.becomeUser(student);
      expect(await accessTo(tx, c.id)).toMatchObject({ has_access: false, reason: 'payment_required' });
      await expectCode(tx, enroll, [c.id], 'PAYRQ');
    }));
});

describe('a refund', () => {
  it('in full removes access at once: the enrollment expires with its reason, its progress kept', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await paidCourse(tx);
      const student = await user(tx);
      const paymentId = await coursePayment(tx, student.id, c.id);
      const e = await enrollAs(tx, student, c.id);
      await tx.query('select lms_public.complete_lesson($1)', [lessons[0]]);
      await refund(tx, paymentId, 'refunded', 100);
      expect(await enrollmentRow(tx, e.id)).toMatchObject({
        status: 'expired',
        access_reason: 'refunded',
        access_payment_id: null,
        access_ended_at: expect.any(Date),
        completed_lessons_count: 1,
      });
      expect(await visibleLessons(tx, c.id)).toBe(0);
      expect(await accessTo(tx, c.id)).toMatchObject({ has_access: false, reason: 'refunded' });
      await expectCode(tx, 'select lms_public.start_lesson($1)', [lessons[1]], 'FRBDN');
      await expectCode(tx, enroll, [c.id], 'PAYRQ', /refunded/);
    }));

  it('in part leaves access as it was', () =>
    db.transaction(async (tx) => {
      const { course: c } = await paidCourse(tx);
      const student = await user(tx);
      const paymentId = await coursePayment(tx, student.id, c.id);
      const e = await enrollAs(tx, student, c.id);
      await refund(tx, paymentId, 'partially_refunded', 30);
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ status: 'active', access_payment_id: paymentId });
      expect(await visibleLessons(tx, c.id)).toBe(2);
    }));

  it('of one purchase never revokes a second valid one: the second takes over the justification', () =>
    db.transaction(async (tx) => {
      const { course: c } = await paidCourse(tx);
      const student = await user(tx);
      const first = await coursePayment(tx, student.id, c.id);
      const second = await coursePayment(tx, student.id, c.id);
      const e = await enrollAs(tx, student, c.id);
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ access_payment_id: first });
      await refund(tx, first, 'refunded', 100);
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ status: 'active', access_payment_id: second, access_reason: 'purchase' });
      expect(await visibleLessons(tx, c.id)).toBe(2);
    }));

  it('followed by a new purchase reactivates the same enrollment; a completed course becomes completed again, its certificate date kept', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await paidCourse(tx);
      const student = await user(tx);
      const paymentId = await coursePayment(tx, student.id, c.id);
      const e = await enrollAs(tx, student, c.id);
      for (const id of lessons) await tx.query('select lms_public.complete_lesson($1)', [id]);
      const completed = await enrollmentRow(tx, e.id);
      expect(completed.status).toBe('completed');
      await refund(tx, paymentId, 'refunded', 100);
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ status: 'expired', completed_at: completed.completed_at });
      const again = await coursePayment(tx, student.id, c.id);
      expect(await enrollmentRow(tx, e.id)).toMatchObject({
        status: 'completed',
        completed_at: completed.completed_at,
        access_payment_id: again,
        access_ended_at: null,
        completed_lessons_count: 2,
      });
    }));
});

describe('a subscription', () => {
  it('grants the courses of its plan while active within its period, until the period end', () =>
    db.transaction(async (tx) => {
      const { course: granted } = await paidCourse(tx, 'design');
      const { course: other } = await paidCourse(tx, 'cooking');
      const student = await user(tx);
      const subscriptionId = await subscription(tx, student.id, await plan(tx, { categories: ['design'] }));
      await tx.becomeUser(student);
      const access = await accessTo(tx, granted.id);
      expect(access).toMatchObject({ has_access: true, reason: 'subscription', subscription_id: subscriptionId });
      expect(access.until!.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
      expect(await accessTo(tx, other.id)).toMatchObject({ has_access: false, reason: 'payment_required' });
      const e = await enrollAs(tx, student, granted.id);
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ access_subscription_id: subscriptionId, access_reason: 'subscription' });
      await expectCode(tx, enroll, [other.id], 'PAYRQ');
    }));

  it('that lapses with no event closes the lessons at once; the sweep then expires the enrollment; a renewal reactivates it', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await paidCourse(tx);
      const student = await user(tx);
      const subscriptionId = await subscription(tx, student.id, await plan(tx));
      const e = await enrollAs(tx, student, c.id);
      await asRoot(tx, (q) =>
        // As time passing would: no trigger sees a period end go by, so move the clock with
        // session_replication_role, which skips the triggers that react to a change.
        q.query(`set local session_replication_role = replica;
                 update lms_public.subscriptions set current_period_end = now() - interval '1 minute' where id = '${subscriptionId}';
                 set local session_replication_role = origin`),
      );
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ status: 'active' });
      expect(await visibleLessons(tx, c.id)).toBe(0);
      await expectCode(tx, 'select lms_public.start_lesson($1)', [lessons[0]], 'PAYRQ');
      expect(await asRoot(tx, async (q) => (await q.query('select lms_private.expire_lapsed_access() as n')).rows[0].n)).toBe(1);
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ status: 'expired', access_reason: 'subscription_ended', access_subscription_id: null });
      await asRoot(tx, (q) => q.query("update lms_public.subscriptions set current_period_end = now() + interval '30 days' where id = $1", [subscriptionId]));
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ status: 'active', access_subscription_id: subscriptionId, access_ended_at: null });
      expect(await visibleLessons(tx, c.id)).toBe(2);
    }));

  it('past_due keeps access for LMS_PAST_DUE_GRACE_DAYS from when it became past due, then not', () =>
    db.transaction(async (tx) => {
      const { course: c } = await paidCourse(tx);
      const student = await user(tx);
      const subscriptionId = await subscription(tx, student.id, await plan(tx));
      const e = await enrollAs(tx, student, c.id);
      await asRoot(tx, (q) => q.query("update lms_public.subscriptions set status = 'past_due' where id = $1", [subscriptionId]));
      const access = await accessTo(tx, c.id);
      expect(access).toMatchObject({ has_access: true, reason: 'past_due_grace', subscription_id: subscriptionId });
      expect(Math.round((access.until!.getTime() - Date.now()) / 86_400_000)).toBe(3);
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ status: 'active', access_reason: 'past_due_grace' });
      // A later update keeps the first past_due moment; four days back is beyond the grace.
      await asRoot(tx, (q) => q.query("update lms_public.subscriptions set past_due_since = now() - interval '4 days' where id = $1", [subscriptionId]));
      await asRoot(tx, (q) =>
        q.query("update lms_public.subscriptions set current_period_end = current_period_end + interval '1 day' where id = $1", [subscriptionId]),
      );
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ status: 'expired', access_reason: 'subscription_ended' });
      await tx.query("select set_config('lms.past_due_grace_days', '5', true)");
      expect(await accessTo(tx, c.id)).toMatchObject({ has_access: true, reason: 'past_due_grace' });
    }));

  it('canceled, unpaid or paused grants nothing; a purchase of the same course is unaffected by it', () =>
    db.transaction(async (tx) => {
      const { course: c } = await paidCourse(tx);
      const { course: bought } = await paidCourse(tx);
      const student = await user(tx);
      const subscriptionId = await subscription(tx, student.id, await plan(tx));
      await coursePayment(tx, student.id, bought.id);
      const e = await enrollAs(tx, student, c.id);
      const kept = await enrollAs(tx, student, bought.id);
      for (const status of ['paused', 'unpaid', 'canceled']) {
        await asRoot(tx, (q) => q.query('update lms_public.subscriptions set status = $2 where id = $1', [subscriptionId, status]));
        expect(await accessTo(tx, c.id)).toMatchObject({ has_access: false, reason: 'subscription_ended' });
        expect(await enrollmentRow(tx, e.id)).toMatchObject({ status: 'expired' });
        expect(await enrollmentRow(tx, kept.id)).toMatchObject({ status: 'active', access_reason: 'purchase' });
      }
    }));

  it('follows its plan: a plan that stops granting a course expires the enrollments it justified', () =>
    db.transaction(async (tx) => {
      const { course: c } = await paidCourse(tx, 'design');
      const student = await user(tx);
      const planId = await plan(tx, { courseIds: [c.id] });
      await subscription(tx, student.id, planId);
      const e = await enrollAs(tx, student, c.id);
      await asRoot(tx, (q) =>
        q.query("update lms_public.plans set grants = 'categories', granted_course_ids = '{}', granted_categories = '{cooking}' where id = $1", [planId]),
      );
      // The plan no longer covers the course at all, so nothing of the subscription is left to name.
      expect(await enrollmentRow(tx, e.id)).toMatchObject({ status: 'expired', access_reason: 'payment_required', access_subscription_id: null });
    }));
});

describe('what the rule keeps from before payments', () => {
  it('an enrollment made while the course was free keeps its access when a price is set; a dropped one does not', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const stays = await user(tx);
      const drops = await user(tx);
      await enrollAs(tx, drops, c.id);
      await tx.query('select lms_public.drop_course($1)', [c.id]);
      const e = await enrollAs(tx, stays, c.id);
      await asRoot(tx, (q) => q.query('update lms_public.courses set price = 10 where id = $1', [c.id]));
      expect(await accessTo(tx, c.id)).toMatchObject({ has_access: true, reason: 'enrolled_free' });
      expect(await visibleLessons(tx, c.id)).toBe(1);
      expect((await enrollAs(tx, stays, c.id)).id).toBe(e.id);
      await tx.becomeUser(drops);
      expect(await accessTo(tx, c.id)).toMatchObject({ has_access: false, reason: 'payment_required' });
      await expectCode(tx, enroll, [c.id], 'PAYRQ');
    }));

  it("a course's instructor enters it without paying; anonymous visitors are asked to sign in", () =>
    db.transaction(async (tx) => {
      const { course: c, teacher } = await publishedCourse(tx, 1, { price: 10 });
      await tx.becomeUser(teacher);
      expect(await accessTo(tx, c.id)).toMatchObject({ has_access: true, reason: 'teaches' });
      await tx.becomeAnonymous();
      expect(await accessTo(tx, c.id)).toMatchObject({ has_access: false, reason: 'sign_in_required' });
      expect(await accessTo(tx, '00000000-0000-0000-0000-000000000000')).toMatchObject({ has_access: false, reason: 'no_such_course' });
    }));

  it('the rule needs LMS_PAST_DUE_GRACE_DAYS from its caller, as every lms.* setting', () =>
    db.transaction(async (tx) => {
      const { course: c } = await paidCourse(tx);
      const student = await user(tx);
      await subscription(tx, student.id, await plan(tx), { status: 'past_due' });
      await tx.becomeUser(student);
      await tx.query("select set_config('lms.past_due_grace_days', '', true)");
      await expectCode(tx, 'select * from lms_public.course_access($1)', [c.id], '42704', /lms\.past_due_grace_days is missing/);
    }));
});
