-- Payments: the state machines of payments and subscriptions, the one rule that derives a
-- student's access to a course from them, the enrollment expiry that follows that rule, the
-- instructors' revenue figures, and their execute grants. Re-runnable: included by every
-- migration that changes it.
--
-- Access (lms_private.course_access_of) is the only place that decides whether a user may enter a
-- course. enroll, the lesson RLS (lms_private.my_entitled_course_ids), the progress functions
-- (lms_private.lock_progress) and the courseAccess query all call it. Enrollments carry its last
-- decision (access_reason and the payment or subscription that justifies them) and expire when
-- it says no: at once on a refund or a subscription change (triggers), and within a minute of a
-- lapse that no event announces (payments__expire_lapsed, which calls expire_lapsed_access).

select lms_private.begin_domain_functions();

--------------------------------------------------------------------------------
-- State machines.

create or replace function lms_private.allowed_transition(p_machine text, p_from text, p_to text) returns boolean
  language sql immutable parallel safe
  set search_path = pg_catalog, public, pg_temp
as $$
  select p_from = p_to or exists (
    select from (values
      -- Payments. A failed attempt of the same PaymentIntent may still succeed on a retry; a refund
      -- only grows; nothing leaves refunded.
      ('payment', 'pending', 'succeeded'),
      ('payment', 'pending', 'failed'),
      ('payment', 'failed', 'succeeded'),
      ('payment', 'succeeded', 'partially_refunded'),
      ('payment', 'succeeded', 'refunded'),
      ('payment', 'partially_refunded', 'refunded'),
      -- Subscriptions, in our mapped statuses. canceled and incomplete_expired are terminal, as at
      -- Stripe; nothing returns to incomplete.
      ('subscription', 'incomplete', 'trial'),
      ('subscription', 'incomplete', 'active'),
      ('subscription', 'incomplete', 'past_due'),
      ('subscription', 'incomplete', 'unpaid'),
      ('subscription', 'incomplete', 'paused'),
      ('subscription', 'incomplete', 'canceled'),
      ('subscription', 'incomplete', 'incomplete_expired'),
      ('subscription', 'trial', 'active'),
      ('subscription', 'trial', 'past_due'),
      ('subscription', 'trial', 'unpaid'),
      ('subscription', 'trial', 'paused'),
      ('subscription', 'trial', 'canceled'),
      ('subscription', 'active', 'trial'),
      ('subscription', 'active', 'past_due'),
      ('subscription', 'active', 'unpaid'),
      ('subscription', 'active', 'paused'),
      ('subscription', 'active', 'canceled'),
      ('subscription', 'past_due', 'active'),
      ('subscription', 'past_due', 'unpaid'),
      ('subscription', 'past_due', 'paused'),
      ('subscription', 'past_due', 'canceled'),
      ('subscription', 'unpaid', 'active'),
      ('subscription', 'unpaid', 'past_due'),
      ('subscription', 'unpaid', 'paused'),
      ('subscription', 'unpaid', 'canceled'),
      ('subscription', 'paused', 'trial'),
      ('subscription', 'paused', 'active'),
      ('subscription', 'paused', 'past_due'),
      ('subscription', 'paused', 'unpaid'),
      ('subscription', 'paused', 'canceled')
    ) as t(machine, from_status, to_status)
    where t.machine = p_machine and t.from_status = p_from and t.to_status = p_to)
$$;
comment on function lms_private.allowed_transition(text, text, text) is 'The state machines of payments and subscriptions, in one place: whether a row of the machine (payment or subscription) may go from one status to another. Staying put is always allowed.';

create or replace function lms_private.subscription_status_of(p_stripe_status text) returns text
  language plpgsql immutable parallel safe
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  return case p_stripe_status
    when 'trialing' then 'trial'
    when 'active' then 'active'
    when 'past_due' then 'past_due'
    when 'unpaid' then 'unpaid'
    when 'paused' then 'paused'
    when 'canceled' then 'canceled'
    when 'incomplete' then 'incomplete'
    when 'incomplete_expired' then 'incomplete_expired'
    else lms_private.unknown_stripe_status(p_stripe_status)
  end;
end
$$;
comment on function lms_private.subscription_status_of(text) is 'Maps Stripe''s eight subscription statuses to ours (trialing becomes trial; the others keep their names); raises on anything else.';

create or replace function lms_private.unknown_stripe_status(p_stripe_status text) returns text
  language plpgsql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  raise exception using errcode = 'invalid_parameter_value', message = format('unknown Stripe subscription status %L', p_stripe_status);
end
$$;
comment on function lms_private.unknown_stripe_status(text) is 'Raises for a Stripe subscription status we do not know: the event fails and is kept for replay rather than guessed at.';

create or replace function lms_private.tg_payments__check_transition() returns trigger
  language plpgsql
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if not lms_private.allowed_transition('payment', old.status, new.status) then
    raise exception using errcode = 'STATE', message = format('a %s payment cannot become %s', old.status, new.status);
  end if;
  return new;
end
$$;
comment on function lms_private.tg_payments__check_transition() is 'Trigger: refuses a payment status change that the payment state machine does not allow (STATE).';

create or replace function lms_private.tg_subscriptions__check_transition() returns trigger
  language plpgsql
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'UPDATE' and not lms_private.allowed_transition('subscription', old.status, new.status) then
    raise exception using errcode = 'STATE', message = format('a %s subscription cannot become %s', old.status, new.status);
  end if;
  -- The grace period runs from the first moment it was past due, however many updates follow
  -- (an update that does not name the column carries the old value); it ends with past_due.
  new.past_due_since := case when new.status = 'past_due' then coalesce(new.past_due_since, now()) end;
  return new;
end
$$;
comment on function lms_private.tg_subscriptions__check_transition() is 'Trigger: refuses a subscription status change that the subscription state machine does not allow (STATE), and keeps past_due_since.';

--------------------------------------------------------------------------------
-- Access.

create or replace function lms_private.past_due_grace() returns interval
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select make_interval(days => lms_private.required_setting('lms.past_due_grace_days')::integer)
$$;
comment on function lms_private.past_due_grace() is 'How long a past_due subscription keeps its access: lms.past_due_grace_days, which every caller sets (LMS_PAST_DUE_GRACE_DAYS); raises when it is not set.';

select lms_private.define_composite_type('lms_public.course_access_decision', $$
  has_access boolean,
  reason text,
  until timestamptz,
  payment_id uuid,
  subscription_id uuid
$$);
comment on type lms_public.course_access_decision is 'Whether a user may enter a course, and why.';
comment on column lms_public.course_access_decision.has_access is 'True when the user may open the course''s lessons.';
comment on column lms_public.course_access_decision.reason is E'Why. With access: teaches, free, purchase, subscription, past_due_grace (a subscription whose payment failed, within LMS_PAST_DUE_GRACE_DAYS), enrolled_free (enrolled while the course was free). Without: sign_in_required, no_such_course, payment_required, refunded, subscription_ended.';
comment on column lms_public.course_access_decision.until is 'When the access ends unless renewed; null when it does not end (a purchase, a free course).';
comment on column lms_public.course_access_decision.payment_id is 'The payment that grants the access, when a purchase does.';
comment on column lms_public.course_access_decision.subscription_id is 'The subscription that grants the access, when a subscription does.';

create or replace function lms_private.plan_grants_course(p_plan lms_public.plans, p_course lms_public.courses) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select case p_plan.grants
    when 'all_courses' then true
    when 'categories' then p_course.category = any(p_plan.granted_categories)
    when 'courses' then p_course.id = any(p_plan.granted_course_ids)
    else false
  end
$$;
comment on function lms_private.plan_grants_course(lms_public.plans, lms_public.courses) is 'Whether a plan grants a course: all courses, the courses of its categories, or its listed courses.';

create or replace function lms_private.course_access_of(p_user_id uuid, p_course_id uuid) returns lms_public.course_access_decision
  language plpgsql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course lms_public.courses;
  v_payment_id uuid;
  v_subscription record;
begin
  select * into v_course from lms_public.courses c where c.id = p_course_id;
  if v_course.id is null then
    return row(false, 'no_such_course', null, null, null)::lms_public.course_access_decision;
  end if;
  if p_user_id is null then
    return row(false, 'sign_in_required', null, null, null)::lms_public.course_access_decision;
  end if;
  if v_course.instructor_id = p_user_id then
    return row(true, 'teaches', null, null, null)::lms_public.course_access_decision;
  end if;
  if v_course.price = 0 then
    return row(true, 'free', null, null, null)::lms_public.course_access_decision;
  end if;
  -- A purchase never ends, so it is preferred to a subscription; the oldest one justifies, so
  -- that a second purchase is there to take over when the first is refunded.
  select p.id into v_payment_id from lms_public.payments p
  where p.user_id = p_user_id and p.course_id = p_course_id and p.payment_type = 'course'
    and p.status in ('succeeded', 'partially_refunded')
  order by p.processed_at nulls last, p.created_at, p.id
  limit 1;
  if v_payment_id is not null then
    return row(true, 'purchase', null, v_payment_id, null)::lms_public.course_access_decision;
  end if;
  -- Of the subscriptions that grant the course now, the one that lasts longest.
  select s.id, s.status,
         case when s.status = 'past_due' then s.past_due_since + lms_private.past_due_grace() else s.current_period_end end as until
  into v_subscription
  from lms_public.subscriptions s join lms_public.plans pl on pl.id = s.plan_id
  where s.user_id = p_user_id and lms_private.plan_grants_course(pl, v_course)
    and ((s.status in ('active', 'trial') and (s.current_period_end is null or s.current_period_end > now()))
         or (s.status = 'past_due' and s.past_due_since + lms_private.past_due_grace() > now()))
  order by 3 desc nulls first, s.id
  limit 1;
  if v_subscription.id is not null then
    return row(true, case when v_subscription.status = 'past_due' then 'past_due_grace' else 'subscription' end,
               v_subscription.until, null, v_subscription.id)::lms_public.course_access_decision;
  end if;
  -- Enrolled while the course was free: a price set later does not lock them out, unless they
  -- dropped the course.
  if exists (select from lms_public.enrollments e
             where e.student_id = p_user_id and e.course_id = p_course_id and e.status in ('active', 'completed')
               and e.access_reason in ('free', 'enrolled_free')) then
    return row(true, 'enrolled_free', null, null, null)::lms_public.course_access_decision;
  end if;
  -- No access: the most telling reason.
  if exists (select from lms_public.payments p
             where p.user_id = p_user_id and p.course_id = p_course_id and p.payment_type = 'course' and p.status = 'refunded') then
    return row(false, 'refunded', null, null, null)::lms_public.course_access_decision;
  end if;
  if exists (select from lms_public.subscriptions s join lms_public.plans pl on pl.id = s.plan_id
             where s.user_id = p_user_id and s.status <> 'incomplete' and lms_private.plan_grants_course(pl, v_course)) then
    return row(false, 'subscription_ended', null, null, null)::lms_public.course_access_decision;
  end if;
  return row(false, 'payment_required', null, null, null)::lms_public.course_access_decision;
end
$$;
comment on function lms_private.course_access_of(uuid, uuid) is 'The access rule, in one place: a user may enter a course they teach; a free course; one they bought (a succeeded payment not fully refunded); one a subscription''s plan grants while it is active or trial within its period, or past_due within LMS_PAST_DUE_GRACE_DAYS; or one they enrolled in while it was free. Otherwise no, with the reason.';

create or replace function lms_public.course_access(course_id uuid) returns lms_public.course_access_decision
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.course_access_of(lms_private.current_user_id(), course_access.course_id)
$$;
comment on function lms_public.course_access(uuid) is 'Whether the signed-in user may enter a course, why, and until when: the same rule that enroll, the lessons and the progress functions apply.';

create or replace function lms_private.apply_course_access(p_enrollment_id uuid) returns boolean
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_enrollment lms_public.enrollments;
  v_decision lms_public.course_access_decision;
  v_status text;
begin
  select * into v_enrollment from lms_public.enrollments e where e.id = p_enrollment_id for no key update;
  if v_enrollment.id is null then
    return false;
  end if;
  v_decision := lms_private.course_access_of(v_enrollment.student_id, v_enrollment.course_id);
  -- A dropped enrollment stays dropped; its justification still follows the rule.
  v_status := case
    when v_decision.has_access and v_enrollment.status = 'expired' then 'active'
    when not v_decision.has_access and v_enrollment.status in ('active', 'completed') then 'expired'
    else v_enrollment.status end;
  update lms_public.enrollments e set
    status = v_status,
    access_payment_id = v_decision.payment_id,
    access_subscription_id = v_decision.subscription_id,
    access_reason = v_decision.reason,
    access_ended_at = case when v_status = 'expired' and v_enrollment.status <> 'expired' then now()
                           when v_decision.has_access then null
                           else e.access_ended_at end
  where e.id = v_enrollment.id
    and (e.status, e.access_payment_id, e.access_subscription_id, e.access_reason)
        is distinct from (v_status, v_decision.payment_id, v_decision.subscription_id, v_decision.reason);
  -- Reactivated: its progress was kept, so a completed course becomes completed again.
  if v_enrollment.status = 'expired' and v_status = 'active' then
    perform lms_private.recalculate_enrollment(v_enrollment.id);
  end if;
  return v_status is distinct from v_enrollment.status;
end
$$;
comment on function lms_private.apply_course_access(uuid) is 'Brings an enrollment in line with the access rule, under its row lock: records what justifies it, expires it (reason kept; progress and certificate untouched) when nothing does, and reactivates an expired one whose access came back. True when its status changed.';

create or replace function lms_private.sync_enrollment_access(p_user_id uuid, p_course_id uuid default null) returns integer
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
  v_changed integer := 0;
begin
  -- In id order, the order every writer of enrollments follows.
  for v_id in
    select e.id from lms_public.enrollments e
    where e.student_id = p_user_id and (p_course_id is null or e.course_id = p_course_id)
    order by e.id
  loop
    if lms_private.apply_course_access(v_id) then
      v_changed := v_changed + 1;
    end if;
  end loop;
  return v_changed;
end
$$;
comment on function lms_private.sync_enrollment_access(uuid, uuid) is 'Applies the access rule to a user''s enrollments (in one course, or all); returns how many changed status.';

create or replace function lms_private.expire_lapsed_access() returns integer
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
  v_changed integer := 0;
begin
  -- Candidates are read without locks; apply_course_access decides again under the row lock.
  for v_id in
    select e.id from lms_public.enrollments e join lms_public.courses c on c.id = e.course_id
    where e.status in ('active', 'completed') and c.price > 0
      and not (lms_private.course_access_of(e.student_id, e.course_id)).has_access
    order by e.id
  loop
    if lms_private.apply_course_access(v_id) then
      v_changed := v_changed + 1;
    end if;
  end loop;
  return v_changed;
end
$$;
comment on function lms_private.expire_lapsed_access() is 'The scheduled sweep (payments__expire_lapsed): expires every enrollment in a paid course that the access rule no longer allows, such as a subscription whose period or grace ended with no event from Stripe. Returns how many expired.';

create or replace function lms_private.tg_payments__sync_access() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if new.course_id is not null then
    perform lms_private.sync_enrollment_access(new.user_id, new.course_id);
  end if;
  return null;
end
$$;
comment on function lms_private.tg_payments__sync_access() is 'Trigger: a course payment that changes status (bought, refunded) re-applies the access rule to its buyer''s enrollment in that course, in the same transaction.';

create or replace function lms_private.tg_subscriptions__sync_access() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform lms_private.sync_enrollment_access(new.user_id);
  return null;
end
$$;
comment on function lms_private.tg_subscriptions__sync_access() is 'Trigger: a subscription whose status, period or plan changes re-applies the access rule to its subscriber''s enrollments, in the same transaction.';

create or replace function lms_private.tg_plans__sync_access() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid;
begin
  for v_user_id in select distinct s.user_id from lms_public.subscriptions s where s.plan_id = new.id order by 1 loop
    perform lms_private.sync_enrollment_access(v_user_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_plans__sync_access() is 'Trigger: a plan that changes what it grants re-applies the access rule to every subscriber''s enrollments.';

--------------------------------------------------------------------------------
-- Revenue, for a course's instructor: figures, never other users' payment rows.

select lms_private.define_composite_type('lms_public.course_revenue', $$
  currency text,
  payments_count integer,
  gross_amount numeric,
  refunded_amount numeric,
  net_amount numeric
$$);
comment on type lms_public.course_revenue is 'A course''s revenue in one currency.';
comment on column lms_public.course_revenue.currency is 'ISO 4217 currency code.';
comment on column lms_public.course_revenue.payments_count is 'Payments that succeeded, refunded ones included.';
comment on column lms_public.course_revenue.gross_amount is 'Their total, before refunds.';
comment on column lms_public.course_revenue.refunded_amount is 'How much of it was refunded.';
comment on column lms_public.course_revenue.net_amount is 'Gross less refunds.';

create or replace function lms_public.courses_revenue(c lms_public.courses) returns setof lms_public.course_revenue
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select p.currency::text, count(*)::integer, sum(p.total_amount), sum(p.amount_refunded), sum(p.total_amount - p.amount_refunded)
  from lms_public.payments p
  where p.course_id = c.id and p.status in ('succeeded', 'partially_refunded', 'refunded')
    and lms_private.can_manage_course(c.id)
  group by p.currency
  order by p.currency
$$;
comment on function lms_public.courses_revenue(lms_public.courses) is E'@behavior -connection +list\n@listSuffix omit\nThe course''s revenue per currency, for its instructor and admins (empty for anyone else). Instructors see these figures, not the payments behind them.';

--------------------------------------------------------------------------------
-- Execute grants. The access rule answers for any user, so course_access_of runs only inside
-- definer functions, triggers and the worker; visitors ask about themselves through course_access.

select lms_private.grant_domain_functions(
  everyone => array['course_access', 'courses_revenue']
);
