/*
 * Plans, payments and subscriptions for the payments tests (SQL level), inserted as root the way
 * the Stripe flow records them, so that a test states only what matters to it.
 */
import { type Db, asRoot } from './db.ts';

let counter = 0;

export interface PlanFields {
  grants?: 'all_courses' | 'categories' | 'courses';
  categories?: string[];
  courseIds?: string[];
  isActive?: boolean;
}

export function plan(db: Db, fields: PlanFields = {}): Promise<string> {
  counter += 1;
  const grants = fields.grants ?? (fields.categories ? 'categories' : fields.courseIds ? 'courses' : 'all_courses');
  return asRoot(db, async (q) => {
    const { rows } = await q.query<{ id: string }>(
      `insert into lms_public.plans (name, stripe_price_id, interval, amount, currency, grants, granted_categories, granted_course_ids, is_active)
       values ($1, $2, 'month', 150, 'EGP', $3, $4, $5, $6) returning id`,
      [`Plan ${counter}`, `price_test_${process.pid}_${counter}`, grants, fields.categories ?? [], fields.courseIds ?? [], fields.isActive ?? true],
    );
    return rows[0]!.id;
  });
}

/** A one-time course payment in the given status, as checkout and Stripe's events leave it (a pending one has no PaymentIntent yet). */
export function coursePayment(db: Db, userId: string, courseId: string, status = 'succeeded', amount = 100): Promise<string> {
  counter += 1;
  return asRoot(db, async (q) => {
    const { rows } = await q.query<{ id: string }>(
      `insert into lms_public.payments (user_id, course_id, payment_type, amount, total_amount, currency, status, stripe_payment_intent_id, processed_at)
       values ($1, $2, 'course', $3, $3, 'EGP', $4::varchar, case when $4::varchar <> 'pending' then $5 end,
               case when $4::varchar <> 'pending' then clock_timestamp() end) returning id`,
      [userId, courseId, amount, status, `pi_test_${process.pid}_${counter}`],
    );
    return rows[0]!.id;
  });
}

export interface SubscriptionFields {
  status?: string;
  periodEnd?: string; // an SQL interval from now, e.g. '30 days' or '-1 hour'
}

export function subscription(db: Db, userId: string, planId: string, fields: SubscriptionFields = {}): Promise<string> {
  counter += 1;
  return asRoot(db, async (q) => {
    const { rows } = await q.query<{ id: string }>(
      `insert into lms_public.subscriptions (user_id, plan_id, plan_name, plan_price_id, stripe_subscription_id, status, current_period_start, current_period_end)
       select $1, p.id, p.name, p.stripe_price_id, $3, $4, now() - interval '1 day', now() + $5::interval
       from lms_public.plans p where p.id = $2 returning id`,
      [userId, planId, `sub_test_${process.pid}_${counter}`, fields.status ?? 'active', fields.periodEnd ?? '30 days'],
    );
    return rows[0]!.id;
  });
}

export interface AccessDecision {
  has_access: boolean;
  reason: string;
  until: Date | null;
  payment_id: string | null;
  subscription_id: string | null;
}

/** courseAccess as the transaction's current visitor. */
export async function accessTo(db: Db, courseId: string): Promise<AccessDecision> {
  return (await db.query<AccessDecision>('select * from lms_public.course_access($1)', [courseId])).rows[0]!;
}
