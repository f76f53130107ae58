--! Previous: sha1:bd48ca52bb2d297af58f30e792deb0fc68949809
--! Hash: sha1:bcf6863fe86319cf6c71a23c96b624ecb173d588
--! Message: Checkout: one Stripe customer per user, and the pending payment or incomplete subscription recorded before the Checkout Session

-- Payments, stage three: checkout. One Stripe customer per user, and the functions that record
-- our pending row before the Checkout Session is created (db/functions/payments.sql).

create table if not exists lms_private.stripe_customers (
  user_id uuid primary key references lms_public.users (id) on delete cascade,
  stripe_customer_id varchar(255) not null unique,
  created_at timestamptz not null default now()
);
comment on table lms_private.stripe_customers is 'Each user''s Stripe customer, created at their first checkout and reused after.';
comment on column lms_private.stripe_customers.user_id is 'The user.';
comment on column lms_private.stripe_customers.stripe_customer_id is 'Stripe''s customer id.';
comment on column lms_private.stripe_customers.created_at is 'When the customer was first used.';

--! Included functions/payments.sql
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
-- Money at the Stripe boundary: Stripe counts integer minor units; we store major units in
-- numeric(10, 2). Converted with integers and numerics, never floats.

create or replace function lms_private.currency_minor_unit_factor(p_currency text) returns integer
  language sql immutable parallel safe
  set search_path = pg_catalog, public, pg_temp
as $$
  -- Stripe's zero-decimal and three-decimal currencies; every other one has two decimals (EGP: piastres).
  select case
    when upper(p_currency) = any(array['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']) then 1
    when upper(p_currency) = any(array['BHD', 'JOD', 'KWD', 'OMR', 'TND']) then 1000
    else 100 end
$$;
comment on function lms_private.currency_minor_unit_factor(text) is 'Minor units per major unit of a currency, as Stripe counts them: 1 for zero-decimal currencies (JPY), 1000 for three-decimal ones (KWD), 100 otherwise (EGP).';

create or replace function lms_private.to_major_units(p_amount bigint, p_currency text) returns numeric
  language sql immutable parallel safe
  set search_path = pg_catalog, public, pg_temp
as $$
  select p_amount::numeric / lms_private.currency_minor_unit_factor(p_currency)
$$;
comment on function lms_private.to_major_units(bigint, text) is 'Stripe''s integer minor units as our major-unit amount (25050 piastres are 250.50 EGP).';

create or replace function lms_private.to_minor_units(p_amount numeric, p_currency text) returns bigint
  language plpgsql immutable parallel safe
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_minor numeric := p_amount * lms_private.currency_minor_unit_factor(p_currency);
begin
  -- A price with more decimals than its currency has cannot be charged exactly: refuse it.
  if v_minor <> trunc(v_minor) then
    raise exception using errcode = 'INVAL', message = format('%s %s has more decimals than the currency allows', p_amount, upper(p_currency));
  end if;
  return v_minor::bigint;
end
$$;
comment on function lms_private.to_minor_units(numeric, text) is 'Our major-unit amount as Stripe''s integer minor units (250.50 EGP is 25050); INVAL when the amount has more decimals than the currency.';

--------------------------------------------------------------------------------
-- Stripe's events: received once each, applied exactly once from their signed payloads.
--
-- The webhook route verifies the signature and calls receive_stripe_event, which records the
-- event (once per Stripe event id) and queues payments__apply_event in the same transaction. The
-- task calls apply_stripe_event, which locks the event row, so that duplicates picked up by two
-- workers apply one after the other and the second finds it processed. The effects and the
-- event's status commit together. An event older than what was already applied to its object,
-- or one that its state machine refuses, is recorded stale and changes nothing.

create or replace function lms_private.receive_stripe_event(p_stripe_event_id text, p_event_type text, p_payload text, p_created timestamptz)
  returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
begin
  insert into lms_private.payment_webhook_events (stripe_event_id, event_type, payload, stripe_created_at)
  values (p_stripe_event_id, p_event_type, p_payload, p_created)
  on conflict (stripe_event_id) do nothing
  returning id into v_id;
  if v_id is null then
    return false;
  end if;
  perform lms_private.add_job('payments__apply_event', jsonb_build_object('eventId', p_stripe_event_id),
    job_key => 'payments__apply_event:' || p_stripe_event_id);
  return true;
end
$$;
comment on function lms_private.receive_stripe_event(text, text, text, timestamptz) is 'Called by POST /webhooks/stripe after the signature is verified: records the event once per Stripe event id and queues payments__apply_event for it in the same transaction. False for a redelivery, which changes nothing.';

create or replace function lms_private.enroll_paid(p_user_id uuid, p_course_id uuid) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
begin
  -- As lms_public.enroll: shared with other enrollments, exclusive of lesson changes.
  perform pg_advisory_xact_lock_shared(hashtext('lms:course-content:' || p_course_id));
  insert into lms_public.enrollments (student_id, course_id) values (p_user_id, p_course_id)
  on conflict on constraint enrollments_student_id_course_id_key do nothing;
  select e.id into v_id from lms_public.enrollments e where e.student_id = p_user_id and e.course_id = p_course_id for no key update;
  -- Paying again after dropping the course takes it up again.
  update lms_public.enrollments e set status = 'active' where e.id = v_id and e.status = 'dropped';
  perform lms_private.apply_course_access(v_id);
  perform lms_private.recalculate_enrollment(v_id);
end
$$;
comment on function lms_private.enroll_paid(uuid, uuid) is 'Enrolls the buyer of a course whose payment succeeded (one row per student and course, however often the event arrives), or takes up a dropped enrollment again.';

create or replace function lms_private.payment_event_is_stale(p_payment lms_public.payments, p_created timestamptz, p_status text) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select p_created < coalesce(p_payment.last_event_created_at, '-infinity'::timestamptz)
      or not lms_private.allowed_transition('payment', p_payment.status, p_status)
$$;
comment on function lms_private.payment_event_is_stale(lms_public.payments, timestamptz, text) is 'Whether an event that would move a payment to a status comes too late: older than the last event applied to the payment, or refused by its state machine (a success after a refund).';

create or replace function lms_private.apply_checkout_session(p_type text, p_session jsonb, p_created timestamptz) returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_payment lms_public.payments;
  v_subscription_id uuid;
  v_target text;
  v_currency text := upper(p_session ->> 'currency');
  v_total bigint := (p_session ->> 'amount_total')::bigint;
  v_tax bigint := coalesce((p_session -> 'total_details' ->> 'amount_tax')::bigint, 0);
begin
  if p_session ->> 'mode' = 'subscription' then
    v_subscription_id := coalesce(p_session -> 'metadata' ->> 'subscription_id', p_session ->> 'client_reference_id')::uuid;
    -- The subscription's status comes from its own events; the session links the Stripe ids.
    update lms_public.subscriptions s set
      stripe_checkout_session_id = coalesce(s.stripe_checkout_session_id, p_session ->> 'id'),
      stripe_subscription_id = coalesce(s.stripe_subscription_id, p_session ->> 'subscription'),
      stripe_customer_id = coalesce(s.stripe_customer_id, p_session ->> 'customer')
    where s.id = v_subscription_id;
    if not found then
      raise exception 'no subscription % for checkout session %', v_subscription_id, p_session ->> 'id';
    end if;
    return 'processed';
  end if;
  select * into v_payment from lms_public.payments p
  where p.id = coalesce(p_session -> 'metadata' ->> 'payment_id', p_session ->> 'client_reference_id')::uuid
  for update;
  if v_payment.id is null then
    raise exception 'no payment % for checkout session %', coalesce(p_session -> 'metadata' ->> 'payment_id', p_session ->> 'client_reference_id'), p_session ->> 'id';
  end if;
  update lms_public.payments p set
    stripe_checkout_session_id = coalesce(p.stripe_checkout_session_id, p_session ->> 'id'),
    stripe_payment_intent_id = coalesce(p.stripe_payment_intent_id, p_session ->> 'payment_intent'),
    stripe_customer_id = coalesce(p.stripe_customer_id, p_session ->> 'customer')
  where p.id = v_payment.id;
  v_target := case
    when p_type = 'checkout.session.async_payment_failed' then 'failed'
    -- Completed but unpaid (a bank transfer, say): async_payment_succeeded or _failed follows.
    when p_type = 'checkout.session.completed' and p_session ->> 'payment_status' = 'unpaid' then null
    else 'succeeded' end;
  if v_target is null then
    update lms_public.payments p set stripe_status = 'unpaid' where p.id = v_payment.id and p.status = 'pending';
    return 'processed';
  end if;
  if lms_private.payment_event_is_stale(v_payment, p_created, v_target) then
    return 'stale';
  end if;
  update lms_public.payments p set
    status = v_target,
    stripe_status = p_session ->> 'payment_status',
    total_amount = case when v_target = 'succeeded' and v_total is not null then lms_private.to_major_units(v_total, v_currency) else p.total_amount end,
    tax_amount = case when v_target = 'succeeded' and v_total is not null then lms_private.to_major_units(v_tax, v_currency) else p.tax_amount end,
    amount = case when v_target = 'succeeded' and v_total is not null then lms_private.to_major_units(v_total - v_tax, v_currency) else p.amount end,
    currency = coalesce(v_currency, p.currency),
    processed_at = case when v_target = 'succeeded' then coalesce(p.processed_at, now()) else p.processed_at end,
    last_event_created_at = greatest(p.last_event_created_at, p_created)
  where p.id = v_payment.id;
  if v_target = 'succeeded' and v_payment.course_id is not null then
    perform lms_private.enroll_paid(v_payment.user_id, v_payment.course_id);
  end if;
  return 'processed';
end
$$;
comment on function lms_private.apply_checkout_session(text, jsonb, timestamptz) is 'Applies checkout.session.completed, async_payment_succeeded and async_payment_failed: finds our row by metadata or client_reference_id, records Stripe''s ids, and for a course payment moves it to succeeded (not while payment_status is unpaid) or failed, with amounts and tax (total_details.amount_tax) from Stripe''s minor units; a success enrolls the buyer.';

create or replace function lms_private.apply_payment_intent(p_type text, p_intent jsonb, p_created timestamptz) returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_payment lms_public.payments;
  v_target text := case p_type when 'payment_intent.succeeded' then 'succeeded' else 'failed' end;
begin
  select * into v_payment from lms_public.payments p
  where p.stripe_payment_intent_id = p_intent ->> 'id' or p.id = (p_intent -> 'metadata' ->> 'payment_id')::uuid
  order by (p.stripe_payment_intent_id = p_intent ->> 'id') desc nulls last
  limit 1
  for update;
  if v_payment.id is null then
    -- Subscription invoices are paid by PaymentIntents too; their payments come from invoice events.
    return 'ignored';
  end if;
  update lms_public.payments p set stripe_payment_intent_id = coalesce(p.stripe_payment_intent_id, p_intent ->> 'id') where p.id = v_payment.id;
  if lms_private.payment_event_is_stale(v_payment, p_created, v_target) then
    return 'stale';
  end if;
  update lms_public.payments p set
    status = v_target,
    stripe_status = p_intent ->> 'status',
    failure_message = case when v_target = 'failed' then p_intent -> 'last_payment_error' ->> 'message' end,
    processed_at = case when v_target = 'succeeded' then coalesce(p.processed_at, now()) else p.processed_at end,
    last_event_created_at = greatest(p.last_event_created_at, p_created)
  where p.id = v_payment.id;
  if v_target = 'succeeded' and v_payment.course_id is not null then
    perform lms_private.enroll_paid(v_payment.user_id, v_payment.course_id);
  end if;
  return 'processed';
end
$$;
comment on function lms_private.apply_payment_intent(text, jsonb, timestamptz) is 'Applies payment_intent.succeeded and payment_failed to the payment with that PaymentIntent (or metadata.payment_id); ignored for a PaymentIntent that is not ours.';

create or replace function lms_private.apply_charge_refunded(p_charge jsonb, p_created timestamptz) returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_payment lms_public.payments;
  v_currency text := upper(p_charge ->> 'currency');
  -- Charge.refunded is true only for a full refund; compare the amounts instead, which also says partial.
  v_target text := case when (p_charge ->> 'amount_refunded')::bigint >= (p_charge ->> 'amount')::bigint then 'refunded' else 'partially_refunded' end;
begin
  select * into v_payment from lms_public.payments p
  where p.stripe_payment_intent_id = p_charge ->> 'payment_intent' or p.stripe_charge_id = p_charge ->> 'id'
     or p.id = (p_charge -> 'metadata' ->> 'payment_id')::uuid
  limit 1
  for update;
  if v_payment.id is null then
    -- Perhaps the checkout event that links the PaymentIntent has not arrived yet: fail, and retry.
    raise exception 'no payment for charge % (payment intent %)', p_charge ->> 'id', p_charge ->> 'payment_intent';
  end if;
  if p_created < coalesce(v_payment.last_event_created_at, '-infinity'::timestamptz) then
    return 'stale';
  end if;
  -- A refunded charge was paid, whatever the events that say so have not told us yet.
  if v_payment.status in ('pending', 'failed') then
    update lms_public.payments p set status = 'succeeded', processed_at = coalesce(p.processed_at, now()) where p.id = v_payment.id
    returning * into v_payment;
  end if;
  if not lms_private.allowed_transition('payment', v_payment.status, v_target) then
    return 'stale';
  end if;
  update lms_public.payments p set
    status = v_target,
    amount_refunded = lms_private.to_major_units((p_charge ->> 'amount_refunded')::bigint, v_currency),
    stripe_charge_id = p_charge ->> 'id',
    stripe_status = case when v_target = 'refunded' then 'refunded' else 'partially_refunded' end,
    last_event_created_at = greatest(p.last_event_created_at, p_created)
  where p.id = v_payment.id;
  return 'processed';
end
$$;
comment on function lms_private.apply_charge_refunded(jsonb, timestamptz) is 'Applies charge.refunded: amount_refunded against amount decides between partially_refunded and refunded; a full refund removes the access it gave, through the access rule.';

create or replace function lms_private.apply_subscription_object(p_subscription jsonb, p_created timestamptz) returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row lms_public.subscriptions;
  v_status text := lms_private.subscription_status_of(p_subscription ->> 'status');
  -- API version 2026-10-28.endive: the periods are on the subscription's items.
  v_item jsonb := p_subscription -> 'items' -> 'data' -> 0;
begin
  select * into v_row from lms_public.subscriptions s
  where s.stripe_subscription_id = p_subscription ->> 'id' or s.id = (p_subscription -> 'metadata' ->> 'subscription_id')::uuid
  order by (s.stripe_subscription_id = p_subscription ->> 'id') desc nulls last
  limit 1
  for update;
  if v_row.id is null then
    raise exception 'no subscription for Stripe subscription %', p_subscription ->> 'id';
  end if;
  if p_created < coalesce(v_row.last_event_created_at, '-infinity'::timestamptz)
     or not lms_private.allowed_transition('subscription', v_row.status, v_status) then
    return 'stale';
  end if;
  update lms_public.subscriptions s set
    stripe_subscription_id = p_subscription ->> 'id',
    stripe_customer_id = coalesce(p_subscription ->> 'customer', s.stripe_customer_id),
    stripe_status = p_subscription ->> 'status',
    status = v_status,
    current_period_start = coalesce(to_timestamp((v_item ->> 'current_period_start')::bigint), s.current_period_start),
    current_period_end = coalesce(to_timestamp((v_item ->> 'current_period_end')::bigint), s.current_period_end),
    cancel_at_period_end = coalesce((p_subscription ->> 'cancel_at_period_end')::boolean, false),
    canceled_at = to_timestamp((p_subscription ->> 'canceled_at')::bigint),
    last_event_created_at = p_created
  where s.id = v_row.id;
  return 'processed';
end
$$;
comment on function lms_private.apply_subscription_object(jsonb, timestamptz) is 'Applies customer.subscription.created, updated and deleted: the mapped and raw status, the period from the subscription''s items, cancel_at_period_end and canceled_at; access follows through the access rule.';

create or replace function lms_private.apply_invoice(p_type text, p_invoice jsonb, p_created timestamptz) returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  -- API version 2026-10-28.endive: an invoice's subscription is under parent.subscription_details.
  v_details jsonb := p_invoice -> 'parent' -> 'subscription_details';
  v_subscription lms_public.subscriptions;
  v_payment lms_public.payments;
  v_currency text := upper(p_invoice ->> 'currency');
  v_total bigint := case when p_type = 'invoice.paid' then (p_invoice ->> 'amount_paid')::bigint else (p_invoice ->> 'amount_due')::bigint end;
  v_tax bigint := coalesce((select sum((t ->> 'amount')::bigint) from jsonb_array_elements(coalesce(p_invoice -> 'total_taxes', '[]')) t), 0);
  v_target text := case when p_type = 'invoice.paid' then 'succeeded' else 'failed' end;
begin
  if v_details is null or jsonb_typeof(v_details) = 'null' then
    return 'ignored';
  end if;
  select * into v_subscription from lms_public.subscriptions s
  where s.stripe_subscription_id = v_details ->> 'subscription' or s.id = (v_details -> 'metadata' ->> 'subscription_id')::uuid
  limit 1
  for update;
  if v_subscription.id is null then
    raise exception 'no subscription for invoice % (Stripe subscription %)', p_invoice ->> 'id', v_details ->> 'subscription';
  end if;
  -- Link the Stripe id early (the invoice may come before customer.subscription.created); the
  -- subscription's status and period change only with its own events.
  update lms_public.subscriptions s set stripe_subscription_id = coalesce(s.stripe_subscription_id, v_details ->> 'subscription')
  where s.id = v_subscription.id;
  insert into lms_public.payments (user_id, subscription_id, plan_id, plan_name, plan_price_id, payment_type, stripe_invoice_id,
                                   stripe_subscription_id, stripe_customer_id, amount, tax_amount, total_amount, currency, status)
  values (v_subscription.user_id, v_subscription.id, v_subscription.plan_id, v_subscription.plan_name, v_subscription.plan_price_id, 'subscription',
          p_invoice ->> 'id', v_details ->> 'subscription', p_invoice ->> 'customer',
          lms_private.to_major_units(v_total - v_tax, v_currency), lms_private.to_major_units(v_tax, v_currency),
          lms_private.to_major_units(v_total, v_currency), v_currency, 'pending')
  on conflict (stripe_invoice_id) do nothing;
  select * into v_payment from lms_public.payments p where p.stripe_invoice_id = p_invoice ->> 'id' for update;
  if lms_private.payment_event_is_stale(v_payment, p_created, v_target) then
    return 'stale';
  end if;
  update lms_public.payments p set
    status = v_target,
    stripe_status = p_invoice ->> 'status',
    stripe_payment_intent_id = coalesce(p.stripe_payment_intent_id, p_invoice -> 'payments' -> 'data' -> 0 -> 'payment' ->> 'payment_intent'),
    amount = lms_private.to_major_units(v_total - v_tax, v_currency),
    tax_amount = lms_private.to_major_units(v_tax, v_currency),
    total_amount = lms_private.to_major_units(v_total, v_currency),
    processed_at = case when v_target = 'succeeded' then coalesce(p.processed_at, now()) else p.processed_at end,
    last_event_created_at = greatest(p.last_event_created_at, p_created)
  where p.id = v_payment.id;
  return 'processed';
end
$$;
comment on function lms_private.apply_invoice(text, jsonb, timestamptz) is 'Applies invoice.paid and invoice.payment_failed of a subscription invoice: one payment row per invoice, with taxes from total_taxes and the PaymentIntent from invoice.payments; the subscription found by parent.subscription_details. Invoices of no subscription are ignored.';

create or replace function lms_private.apply_stripe_payload(p_event jsonb) returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_type text := p_event ->> 'type';
  v_object jsonb := p_event -> 'data' -> 'object';
  v_created timestamptz := to_timestamp((p_event ->> 'created')::bigint);
begin
  return case
    when v_type in ('checkout.session.completed', 'checkout.session.async_payment_succeeded', 'checkout.session.async_payment_failed')
      then lms_private.apply_checkout_session(v_type, v_object, v_created)
    when v_type in ('payment_intent.succeeded', 'payment_intent.payment_failed') then lms_private.apply_payment_intent(v_type, v_object, v_created)
    when v_type = 'charge.refunded' then lms_private.apply_charge_refunded(v_object, v_created)
    when v_type in ('customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted')
      then lms_private.apply_subscription_object(v_object, v_created)
    when v_type in ('invoice.paid', 'invoice.payment_failed') then lms_private.apply_invoice(v_type, v_object, v_created)
    else 'ignored' end;
end
$$;
comment on function lms_private.apply_stripe_payload(jsonb) is 'Applies one verified Stripe event by its type; ignored for a type we do not handle. Returns processed, stale or ignored.';

create or replace function lms_private.apply_stripe_event(p_stripe_event_id text) returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_event lms_private.payment_webhook_events;
  v_result text;
  v_error text;
begin
  -- The row lock makes duplicates wait for each other; the second then finds the first's status.
  select * into v_event from lms_private.payment_webhook_events e where e.stripe_event_id = p_stripe_event_id for update;
  if v_event.id is null then
    raise exception using errcode = 'NTFND', message = format('no webhook event %s', p_stripe_event_id);
  end if;
  if v_event.status in ('processed', 'ignored', 'stale') then
    return v_event.status;
  end if;
  begin
    v_result := lms_private.apply_stripe_payload(v_event.payload::jsonb);
  exception when others then
    -- The block's effects are undone; the failure is kept, so that the worker retries and an admin sees why.
    get stacked diagnostics v_error = message_text;
    update lms_private.payment_webhook_events e set status = 'failed', error_message = v_error, processed_at = null where e.id = v_event.id;
    return 'failed';
  end;
  update lms_private.payment_webhook_events e set status = v_result, error_message = null, processed_at = now() where e.id = v_event.id;
  return v_result;
end
$$;
comment on function lms_private.apply_stripe_event(text) is 'Applies a received Stripe event exactly once: its effects and its status (processed, stale or ignored) commit together; an event already done is left as it is; a failure is recorded as failed with its message, its effects undone, and the status returned rather than raised, so that it stays recorded.';

create or replace function lms_public.replay_webhook_event(stripe_event_id text) returns lms_public.webhook_events
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_event lms_public.webhook_events;
begin
  if not lms_private.is_admin() then
    raise exception using errcode = 'FRBDN', message = 'only admins replay webhook events';
  end if;
  perform lms_private.apply_stripe_event(replay_webhook_event.stripe_event_id);
  select * into v_event from lms_public.webhook_events w where w.stripe_event_id = replay_webhook_event.stripe_event_id;
  return v_event;
end
$$;
comment on function lms_public.replay_webhook_event(text) is E'@resultFieldName event\nApplies a Stripe event again, for admins: a failed (or not yet applied) event is retried now; a processed, stale or ignored one changes nothing. NTFND for an unknown event id.';

--------------------------------------------------------------------------------
-- Checkout. The API records our row first (a pending payment, or an incomplete subscription),
-- then creates the Checkout Session at Stripe with that row's id as client_reference_id, in
-- metadata and in the idempotency key. The return URL grants nothing: only Stripe's events do.
-- Each function acts for the signed-in user only.

select lms_private.define_composite_type('lms_private.course_checkout', $$
  payment_id uuid,
  user_id uuid,
  email text,
  course_id uuid,
  course_title text,
  amount_minor bigint,
  currency text,
  stripe_customer_id text
$$);
comment on type lms_private.course_checkout is 'What the API sends to Stripe for a course checkout: our pending payment, the price in minor units, and the buyer''s Stripe customer if known.';

create or replace function lms_private.begin_course_checkout(p_course_id uuid) returns lms_private.course_checkout
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_course lms_public.courses;
  v_payment_id uuid;
begin
  select * into v_course from lms_public.courses c where c.id = p_course_id;
  if v_course.id is null or not v_course.is_published then
    raise exception using errcode = 'NTFND', message = 'no such course in the catalog';
  end if;
  if v_course.price = 0 then
    raise exception using errcode = 'INVAL', message = 'this course is free: enroll in it';
  end if;
  if (lms_private.course_access_of(v_user_id, v_course.id)).has_access then
    raise exception using errcode = 'INVAL', message = 'you already have access to this course';
  end if;
  insert into lms_public.payments (user_id, course_id, payment_type, amount, tax_amount, total_amount, currency, status)
  values (v_user_id, v_course.id, 'course', v_course.price, 0, v_course.price, v_course.currency, 'pending')
  returning id into v_payment_id;
  return (
    select row(v_payment_id, v_user_id, u.email::text, v_course.id, v_course.title::text,
               lms_private.to_minor_units(v_course.price, v_course.currency), lower(v_course.currency), sc.stripe_customer_id::text)::lms_private.course_checkout
    from lms_public.users u left join lms_private.stripe_customers sc on sc.user_id = u.id
    where u.id = v_user_id
  );
end
$$;
comment on function lms_private.begin_course_checkout(uuid) is 'Records the signed-in user''s pending payment for a published paid course (NTFND, INVAL when free or already accessible), with the course''s price and currency, and returns what Stripe needs.';

select lms_private.define_composite_type('lms_private.subscription_checkout', $$
  subscription_id uuid,
  user_id uuid,
  email text,
  plan_id uuid,
  stripe_price_id text,
  stripe_customer_id text
$$);
comment on type lms_private.subscription_checkout is 'What the API sends to Stripe for a subscription checkout: our incomplete subscription, the plan''s price, and the subscriber''s Stripe customer if known.';

create or replace function lms_private.begin_subscription_checkout(p_plan_id uuid) returns lms_private.subscription_checkout
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_plan lms_public.plans;
  v_subscription_id uuid;
begin
  select * into v_plan from lms_public.plans p where p.id = p_plan_id and p.is_active;
  if v_plan.id is null then
    raise exception using errcode = 'NTFND', message = 'no such plan on sale';
  end if;
  if exists (select from lms_public.subscriptions s
             where s.user_id = v_user_id and s.plan_id = v_plan.id and s.status in ('trial', 'active', 'past_due', 'unpaid', 'paused')) then
    raise exception using errcode = 'INVAL', message = 'you already subscribe to this plan';
  end if;
  insert into lms_public.subscriptions (user_id, plan_id, plan_name, plan_price_id, status)
  values (v_user_id, v_plan.id, v_plan.name, v_plan.stripe_price_id, 'incomplete')
  returning id into v_subscription_id;
  return (
    select row(v_subscription_id, v_user_id, u.email::text, v_plan.id, v_plan.stripe_price_id::text, sc.stripe_customer_id::text)::lms_private.subscription_checkout
    from lms_public.users u left join lms_private.stripe_customers sc on sc.user_id = u.id
    where u.id = v_user_id
  );
end
$$;
comment on function lms_private.begin_subscription_checkout(uuid) is 'Records the signed-in user''s incomplete subscription to a plan on sale (NTFND; INVAL when they already subscribe to it) and returns what Stripe needs.';

create or replace function lms_private.remember_stripe_customer(p_stripe_customer_id text) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
begin
  insert into lms_private.stripe_customers (user_id, stripe_customer_id) values (v_user_id, p_stripe_customer_id)
  on conflict (user_id) do nothing;
  -- A concurrent checkout may have remembered one first: every later checkout uses that one.
  return (select c.stripe_customer_id from lms_private.stripe_customers c where c.user_id = v_user_id);
end
$$;
comment on function lms_private.remember_stripe_customer(text) is 'Remembers the signed-in user''s Stripe customer, one per user; returns the one remembered.';

create or replace function lms_private.record_checkout_session(p_payment_id uuid, p_subscription_id uuid, p_session_id text) returns void
  language sql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  update lms_public.payments set stripe_checkout_session_id = p_session_id
  where id = p_payment_id and user_id = lms_private.require_user();
  update lms_public.subscriptions set stripe_checkout_session_id = p_session_id
  where id = p_subscription_id and user_id = lms_private.require_user();
$$;
comment on function lms_private.record_checkout_session(uuid, uuid, text) is 'Records the Checkout Session created for the signed-in user''s pending payment or incomplete subscription.';

--------------------------------------------------------------------------------
-- Execute grants. The access rule answers for any user, so course_access_of runs only inside
-- definer functions, triggers and the worker; visitors ask about themselves through course_access.

select lms_private.grant_domain_functions(
  -- The checkout functions are everyone's so that an anonymous caller hears NOAUT (require_user),
  -- not a permission error; each acts for the signed-in user only.
  everyone => array['course_access', 'courses_revenue', 'begin_course_checkout', 'begin_subscription_checkout', 'remember_stripe_customer',
    'record_checkout_session'],
  admins => array['replay_webhook_event'],
  authenticator => array['receive_stripe_event']
);
--! EndIncluded functions/payments.sql
--! Included policies/payments.sql
-- Payments: row level security, grants and policies of plans, payments, subscriptions and Stripe
-- webhook events. Re-runnable: included by every migration that changes it.

alter table lms_public.plans enable row level security;
alter table lms_public.payments enable row level security;
alter table lms_public.subscriptions enable row level security;
alter table lms_private.payment_webhook_events enable row level security;
alter table lms_private.stripe_customers enable row level security;

revoke all on lms_public.plans, lms_public.payments, lms_public.subscriptions, lms_private.payment_webhook_events,
  lms_public.webhook_events, lms_private.stripe_customers
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Plans: everyone reads the plans on sale; admins manage them (and see withdrawn ones).
grant select on lms_public.plans to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant insert (name, description, stripe_price_id, interval, amount, currency, grants, granted_categories, granted_course_ids, is_active)
  on lms_public.plans to lms_admin;
grant update (name, description, stripe_price_id, interval, amount, currency, grants, granted_categories, granted_course_ids, is_active)
  on lms_public.plans to lms_admin;
grant delete on lms_public.plans to lms_admin;

drop policy if exists select_active_or_admin on lms_public.plans;
create policy select_active_or_admin on lms_public.plans for select
  using (is_active or lms_private.is_admin());

drop policy if exists insert_admin on lms_public.plans;
create policy insert_admin on lms_public.plans for insert with check (lms_private.is_admin());

drop policy if exists update_admin on lms_public.plans;
create policy update_admin on lms_public.plans for update using (lms_private.is_admin()) with check (lms_private.is_admin());

drop policy if exists delete_admin on lms_public.plans;
create policy delete_admin on lms_public.plans for delete using (lms_private.is_admin());

-- Payments and subscriptions: read-only for visitors (they change through checkout and Stripe's
-- events); each user sees their own, admins all. Instructors read their courses' revenue through
-- courses.revenue, never the rows.
grant select on lms_public.payments, lms_public.subscriptions to lms_student, lms_instructor, lms_admin;

drop policy if exists select_own_or_admin on lms_public.payments;
create policy select_own_or_admin on lms_public.payments for select
  using (user_id = lms_private.current_user_id() or lms_private.is_admin());

drop policy if exists select_own_or_admin on lms_public.subscriptions;
create policy select_own_or_admin on lms_public.subscriptions for select
  using (user_id = lms_private.current_user_id() or lms_private.is_admin());

-- stripe_customers is read and written only by the checkout functions.
-- payment_webhook_events never gets a visitor grant: only the webhook route and the worker write
-- it. Admins read it through the webhook_events view, which runs as its owner and shows rows to
-- admins only (its where clause), without the payloads.
grant select on lms_public.webhook_events to lms_admin;
--! EndIncluded policies/payments.sql
