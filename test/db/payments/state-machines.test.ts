import { createTestDatabase, type TestDatabase, type Transaction, expectCode, asRoot } from '../../support/db.ts';
import { publishedCourse, user } from '../../support/courses.ts';
import { coursePayment, plan, subscription } from '../../support/payments.ts';

// The transitions of lms_private.allowed_transition, enforced on the tables themselves: whatever
// writes a status (an event, a refund, an admin as owner), a forbidden change is refused (STATE).

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const setPayment = 'update lms_public.payments set status = $2 where id = $1';
const setSubscription = 'update lms_public.subscriptions set status = $2 where id = $1';

async function newPayment(tx: Transaction, status: string): Promise<string> {
  const { course: c } = await publishedCourse(tx, 1, { price: 100 });
  return coursePayment(tx, (await user(tx)).id, c.id, status);
}

describe('payments', () => {
  it.each([
    ['pending', 'succeeded'],
    ['pending', 'failed'],
    ['failed', 'succeeded'],
    ['succeeded', 'partially_refunded'],
    ['succeeded', 'refunded'],
    ['partially_refunded', 'refunded'],
  ])('%s → %s is allowed', (from, to) =>
    db.transaction(async (tx) => {
      const id = await newPayment(tx, from);
      await tx.query(setPayment, [id, to]);
      expect((await tx.query('select status from lms_public.payments where id = $1', [id])).rows).toEqual([{ status: to }]);
    }),
  );

  it.each([
    ['succeeded', 'pending'],
    ['succeeded', 'failed'],
    ['refunded', 'succeeded'],
    ['refunded', 'partially_refunded'],
    ['refunded', 'pending'],
    ['partially_refunded', 'succeeded'],
    ['pending', 'refunded'],
    ['failed', 'refunded'],
  ])('%s → %s is refused (STATE), even for the owner', (from, to) =>
    db.transaction(async (tx) => {
      const id = await newPayment(tx, from);
      await expectCode(tx, setPayment, [id, to], 'STATE', new RegExp(`a ${from} payment cannot become ${to}`));
    }),
  );
});

describe('subscriptions', () => {
  it("Stripe's eight statuses map to ours, trialing to trial; an unknown one raises", () =>
    db.transaction(async (tx) => {
      const { rows } = await tx.query(
        `select s, lms_private.subscription_status_of(s) as ours
         from unnest(array['trialing', 'active', 'past_due', 'unpaid', 'paused', 'canceled', 'incomplete', 'incomplete_expired']) s`,
      );
      expect(Object.fromEntries(rows.map((r) => [r.s, r.ours]))).toEqual({
        trialing: 'trial',
        active: 'active',
        past_due: 'past_due',
        unpaid: 'unpaid',
        paused: 'paused',
        canceled: 'canceled',
        incomplete: 'incomplete',
        incomplete_expired: 'incomplete_expired',
      });
      await expectCode(tx, "select lms_private.subscription_status_of('ended')", [], '22023', /unknown Stripe subscription status 'ended'/);
    }));

  it('move freely between the live statuses, and never out of canceled or incomplete_expired, nor back to incomplete', () =>
    db.transaction(async (tx) => {
      const student = await user(tx);
      const planId = await plan(tx);
      const live = await subscription(tx, student.id, planId, { status: 'incomplete' });
      for (const status of ['active', 'past_due', 'active', 'paused', 'trial', 'unpaid', 'active']) await tx.query(setSubscription, [live, status]);
      await expectCode(tx, setSubscription, [live, 'incomplete'], 'STATE');
      await tx.query(setSubscription, [live, 'canceled']);
      for (const status of ['active', 'trial', 'incomplete', 'past_due']) {
        await expectCode(tx, setSubscription, [live, status], 'STATE', new RegExp(`a canceled subscription cannot become ${status}`));
      }
      const expired = await subscription(tx, student.id, planId, { status: 'incomplete' });
      await tx.query(setSubscription, [expired, 'incomplete_expired']);
      await expectCode(tx, setSubscription, [expired, 'active'], 'STATE');
    }));

  it('past_due_since is set when it becomes past due, kept while it stays so, cleared when it leaves', () =>
    db.transaction(async (tx) => {
      const id = await subscription(tx, (await user(tx)).id, await plan(tx));
      const since = async () => (await tx.query('select past_due_since from lms_public.subscriptions where id = $1', [id])).rows[0].past_due_since;
      expect(await since()).toBeNull();
      await tx.query(setSubscription, [id, 'past_due']);
      const first = await since();
      expect(first).toEqual(expect.any(Date));
      await asRoot(tx, (q) => q.query("update lms_public.subscriptions set current_period_end = now() + interval '2 days' where id = $1", [id]));
      expect(await since()).toEqual(first);
      await tx.query(setSubscription, [id, 'active']);
      expect(await since()).toBeNull();
    }));
});
