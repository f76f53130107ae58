--! Previous: sha1:e78f0df7356b46568a41c18a6250cf113c315e94
--! Hash: sha1:8e67bae13dea10160f87930ae424df73babbbe28
--! Message: Payments core: plans, the payment and subscription state machines, one access rule used by enroll, lessons and progress, enrollments that expire and come back

-- Payments and subscriptions, stage one: the tables and columns the Stripe flow needs, and the
-- rules (db/functions/payments.sql) that derive access from them.

-- Plans, managed by admins: what a subscription to each Stripe price grants.
create table if not exists lms_public.plans (
  id uuid primary key default gen_random_uuid(),
  name varchar(100) not null,
  description text,
  stripe_price_id varchar(255) not null unique,
  interval varchar(10) not null constraint plans_interval_check check (interval in ('day', 'week', 'month', 'year')),
  amount numeric(10, 2) not null constraint plans_amount_check check (amount >= 0),
  currency varchar(3) not null default 'EGP' constraint plans_currency_check check (currency ~ '^[A-Z]{3}$'),
  grants varchar(20) not null constraint plans_grants_check check (grants in ('all_courses', 'categories', 'courses')),
  granted_categories varchar(100)[] not null default '{}',
  granted_course_ids uuid[] not null default '{}',
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint plans_grants_listed check (
    (grants = 'all_courses' and granted_categories = '{}' and granted_course_ids = '{}')
    or (grants = 'categories' and cardinality(granted_categories) > 0 and granted_course_ids = '{}')
    or (grants = 'courses' and cardinality(granted_course_ids) > 0 and granted_categories = '{}'))
);
comment on table lms_public.plans is 'A subscription plan: a Stripe price and what a subscription to it grants. Everyone reads the active plans; admins manage them.';
comment on column lms_public.plans.id is 'The plan''s id.';
comment on column lms_public.plans.name is 'The plan''s name, shown to buyers and copied to its subscriptions.';
comment on column lms_public.plans.description is 'What the plan offers, for buyers.';
comment on column lms_public.plans.stripe_price_id is 'Stripe''s id of the recurring price that a subscription to the plan pays.';
comment on column lms_public.plans.interval is 'How often the plan bills: day, week, month or year.';
comment on column lms_public.plans.amount is 'The price per interval, in the currency''s major unit (Stripe receives integer minor units).';
comment on column lms_public.plans.currency is 'ISO 4217 currency code, upper case.';
comment on column lms_public.plans.grants is 'What a subscription grants: all_courses, categories (the courses of grantedCategories) or courses (grantedCourseIds).';
comment on column lms_public.plans.granted_categories is 'The course categories granted, when grants is categories.';
comment on column lms_public.plans.granted_course_ids is 'The courses granted, when grants is courses.';
comment on column lms_public.plans.is_active is 'False once the plan is withdrawn from sale; existing subscriptions keep what it grants.';
comment on column lms_public.plans.created_at is 'When the plan was created.';
comment on column lms_public.plans.updated_at is 'When the row last changed; kept by a trigger.';

-- Payments: what the Stripe flow records, and the partial refund state (deviation: the seed lists
-- pending, succeeded, failed and refunded).
alter table lms_public.payments add column if not exists course_id uuid references lms_public.courses (id);
alter table lms_public.payments add column if not exists plan_id uuid references lms_public.plans (id);
alter table lms_public.payments add column if not exists stripe_checkout_session_id varchar(255) unique;
alter table lms_public.payments add column if not exists stripe_charge_id varchar(255);
alter table lms_public.payments add column if not exists stripe_status varchar(50);
alter table lms_public.payments add column if not exists amount_refunded numeric(10, 2) not null default 0;
alter table lms_public.payments add column if not exists failure_message text;
alter table lms_public.payments add column if not exists last_event_created_at timestamptz;
alter table lms_public.payments drop constraint if exists payments_status_check;
alter table lms_public.payments add constraint payments_status_check
  check (status in ('pending', 'succeeded', 'failed', 'partially_refunded', 'refunded'));
alter table lms_public.payments drop constraint if exists payments_payment_type_check;
alter table lms_public.payments add constraint payments_payment_type_check check (payment_type in ('course', 'subscription'));
alter table lms_public.payments drop constraint if exists payments_course_payment_has_course;
alter table lms_public.payments add constraint payments_course_payment_has_course check (payment_type <> 'course' or course_id is not null);
alter table lms_public.payments drop constraint if exists payments_amount_refunded_check;
alter table lms_public.payments add constraint payments_amount_refunded_check check (amount_refunded >= 0 and amount_refunded <= total_amount);
alter table lms_public.payments drop constraint if exists payments_currency_check;
alter table lms_public.payments add constraint payments_currency_check check (currency ~ '^[A-Z]{3}$');
create index if not exists ix_payments_user_id_course_id on lms_public.payments (user_id, course_id);
create index if not exists ix_payments_course_id on lms_public.payments (course_id);
comment on column lms_public.payments.status is 'pending, succeeded, failed, partially_refunded or refunded; changes only along lms_private.allowed_transition.';
comment on column lms_public.payments.payment_type is 'course (a one-time purchase) or subscription (an invoice of a subscription).';
comment on column lms_public.payments.course_id is 'The course bought, for course payments.';
comment on column lms_public.payments.plan_id is 'The plan paid for, for subscription payments.';
comment on column lms_public.payments.stripe_checkout_session_id is 'Stripe''s Checkout Session id.';
comment on column lms_public.payments.stripe_charge_id is 'Stripe''s id of the charge, once known.';
comment on column lms_public.payments.stripe_status is 'The status Stripe last reported for the payment, as Stripe spells it.';
comment on column lms_public.payments.amount_refunded is 'How much of total_amount has been refunded.';
comment on column lms_public.payments.failure_message is 'Why the payment failed, as Stripe reported it.';
comment on column lms_public.payments.last_event_created_at is 'The created time of the last Stripe event applied to this payment: an older event changes nothing.';

-- Subscriptions: the row exists (incomplete) before Stripe creates the subscription.
alter table lms_public.subscriptions alter column stripe_subscription_id drop not null;
alter table lms_public.subscriptions add column if not exists plan_id uuid references lms_public.plans (id);
alter table lms_public.subscriptions add column if not exists stripe_status varchar(30);
alter table lms_public.subscriptions add column if not exists stripe_checkout_session_id varchar(255) unique;
alter table lms_public.subscriptions add column if not exists cancel_at_period_end boolean not null default false;
alter table lms_public.subscriptions add column if not exists past_due_since timestamptz;
alter table lms_public.subscriptions add column if not exists last_event_created_at timestamptz;
alter table lms_public.subscriptions drop constraint if exists subscriptions_status_check;
alter table lms_public.subscriptions add constraint subscriptions_status_check
  check (status in ('trial', 'active', 'past_due', 'canceled', 'incomplete', 'incomplete_expired', 'unpaid', 'paused'));
alter table lms_public.subscriptions drop constraint if exists subscriptions_stripe_status_check;
alter table lms_public.subscriptions add constraint subscriptions_stripe_status_check
  check (stripe_status in ('trialing', 'active', 'past_due', 'canceled', 'incomplete', 'incomplete_expired', 'unpaid', 'paused'));
create index if not exists ix_subscriptions_plan_id on lms_public.subscriptions (plan_id);
comment on column lms_public.subscriptions.status is 'trial, active, past_due, canceled, incomplete, plus unpaid, paused and incomplete_expired: Stripe''s status mapped by lms_private.subscription_status_of; changes only along lms_private.allowed_transition.';
comment on column lms_public.subscriptions.stripe_subscription_id is 'Stripe''s id of the subscription; null until Stripe creates it.';
comment on column lms_public.subscriptions.plan_id is 'The plan subscribed to.';
comment on column lms_public.subscriptions.stripe_status is 'Stripe''s own status, unmapped: trialing, active, past_due, canceled, incomplete, incomplete_expired, unpaid or paused.';
comment on column lms_public.subscriptions.stripe_checkout_session_id is 'Stripe''s Checkout Session id that started the subscription.';
comment on column lms_public.subscriptions.cancel_at_period_end is 'True when the subscription ends at the end of its current period.';
comment on column lms_public.subscriptions.past_due_since is 'When the subscription became past_due; access lasts LMS_PAST_DUE_GRACE_DAYS from then. Kept by a trigger.';
comment on column lms_public.subscriptions.last_event_created_at is 'The created time of the last Stripe event applied to this subscription: an older event changes nothing.';

-- Enrollments: what justifies them, and why access ended.
alter table lms_public.enrollments add column if not exists access_payment_id uuid references lms_public.payments (id);
alter table lms_public.enrollments add column if not exists access_subscription_id uuid references lms_public.subscriptions (id);
alter table lms_public.enrollments add column if not exists access_reason varchar(30);
alter table lms_public.enrollments add column if not exists access_ended_at timestamptz;
create index if not exists ix_enrollments_access_subscription_id on lms_public.enrollments (access_subscription_id);
create index if not exists ix_enrollments_access_payment_id on lms_public.enrollments (access_payment_id);
comment on column lms_public.enrollments.access_payment_id is 'The payment that justifies the enrollment, when a purchase does.';
comment on column lms_public.enrollments.access_subscription_id is 'The subscription that justifies the enrollment, when a subscription does.';
comment on column lms_public.enrollments.access_reason is 'The reason of the last access decision (see courseAccess): why the student may enter, or, when expired, why not.';
comment on column lms_public.enrollments.access_ended_at is 'When access last ended and the enrollment expired; null while it has access.';
-- Every enrollment so far was made in a free course (enroll refused paid ones).
update lms_public.enrollments set access_reason = 'free' where access_reason is null;

-- Webhook events: the states processing can end in, and Stripe's creation time of the event.
alter table lms_private.payment_webhook_events add column if not exists stripe_created_at timestamptz;
alter table lms_private.payment_webhook_events alter column status set default 'received';
alter table lms_private.payment_webhook_events drop constraint if exists payment_webhook_events_status_check;
alter table lms_private.payment_webhook_events add constraint payment_webhook_events_status_check
  check (status in ('received', 'processing', 'processed', 'ignored', 'stale', 'failed'));
comment on column lms_private.payment_webhook_events.status is 'received, then processed, ignored (a type we do not handle), stale (older than the state already applied) or failed (see error_message; retried).';
comment on column lms_private.payment_webhook_events.stripe_created_at is 'The event''s created time, from its signed payload.';

-- Admins read the private events through this view (granted to lms_admin only, in policies/payments.sql).
create or replace view lms_public.webhook_events as
  select e.id, e.stripe_event_id, e.event_type, e.status, e.error_message, e.stripe_created_at, e.created_at, e.processed_at
  from lms_private.payment_webhook_events e
  where lms_private.is_admin();
comment on view lms_public.webhook_events is E'@primaryKey id\nThe Stripe webhook events received, for admins: their status and why processing failed. Payloads stay private.';
comment on column lms_public.webhook_events.id is 'The event row''s id.';
comment on column lms_public.webhook_events.stripe_event_id is 'Stripe''s event id.';
comment on column lms_public.webhook_events.event_type is 'Stripe''s event type.';
comment on column lms_public.webhook_events.status is E'@behavior +attribute:filterBy\nreceived, processed, ignored, stale or failed.';
comment on column lms_public.webhook_events.error_message is 'Why processing failed, if it did.';
comment on column lms_public.webhook_events.stripe_created_at is 'The event''s created time at Stripe.';
comment on column lms_public.webhook_events.created_at is 'When the event was received.';
comment on column lms_public.webhook_events.processed_at is 'When processing finished.';

--! Included access.sql
-- Access: who may reach the schemas, who the request is, and the ids it may see: the helpers
-- every RLS policy calls, in one place. The my_* helpers are security definer, so a policy that calls one reads the other
-- table without that table's policy, and two policies can never recurse into each other; each
-- returns an array, computed once per statement when the policy wraps it in (select ...).
-- Re-runnable: included by every migration that changes it. Runs before the domains' functions.

--------------------------------------------------------------------------------
-- The schemas: visitor roles may use both (each object has its own grants); the API's own
-- connection only lms_private, for the definer functions it calls before it switches role.

revoke all on schema lms_public, lms_private from public, lms_anonymous, lms_student, lms_instructor, lms_admin, lms_authenticator;
grant usage on schema lms_public, lms_private to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant usage on schema lms_private to lms_authenticator;

select lms_private.begin_domain_functions();

--------------------------------------------------------------------------------
-- The request's identity, from the API's pgSettings.

create or replace function lms_private.current_user_id() returns uuid
  language sql stable parallel safe
  set search_path = pg_catalog, public, pg_temp
as $$
  select nullif(current_setting('jwt.claims.user_id', true), '')::uuid
$$;
comment on function lms_private.current_user_id() is 'The signed-in user''s id, from the verified JWT that the API put in jwt.claims.user_id; null when anonymous.';

create or replace function lms_private.is_admin() returns boolean
  language sql stable parallel safe
  set search_path = pg_catalog, public, pg_temp
as $$
  -- The role setting, not current_user: inside a security definer function current_user is the owner.
  select current_setting('role', true) = 'lms_admin'
$$;
comment on function lms_private.is_admin() is 'True when the request runs as the lms_admin role (SET ROLE by the API), also inside definer functions.';

--------------------------------------------------------------------------------
-- What the signed-in user may see.

create or replace function lms_private.my_taught_course_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(c.id), '{}') from lms_public.courses c where c.instructor_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_taught_course_ids() is 'Ids of the courses the signed-in user teaches.';

-- PL/pgSQL, because the access rule it calls (functions/payments.sql) is defined after this file.
create or replace function lms_private.my_entitled_course_ids() returns uuid[]
  language plpgsql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- The enrollment's status follows the access rule through triggers and the sweep; asking the
  -- rule again closes the minute between a lapse with no event and the sweep.
  return (select coalesce(array_agg(e.course_id), '{}') from lms_public.enrollments e
          where e.student_id = lms_private.current_user_id() and e.status in ('active', 'completed')
            and (lms_private.course_access_of(e.student_id, e.course_id)).has_access);
end
$$;
comment on function lms_private.my_entitled_course_ids() is 'Ids of the courses the signed-in user is enrolled in (active or completed) and may still enter under the access rule (lms_private.course_access_of): their lessons are theirs to read, published or not.';

create or replace function lms_private.my_enrollment_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(e.id), '{}') from lms_public.enrollments e where e.student_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_enrollment_ids() is 'Ids of the signed-in user''s own enrollments, whatever their status.';

create or replace function lms_private.my_taught_lesson_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(l.id), '{}') from lms_public.lessons l
  join lms_public.courses c on c.id = l.course_id where c.instructor_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_taught_lesson_ids() is 'Ids of the lessons in the courses the signed-in user teaches.';

create or replace function lms_private.my_taught_quiz_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(q.id), '{}') from lms_public.quizzes q join lms_public.lessons l on l.id = q.lesson_id
  join lms_public.courses c on c.id = l.course_id where c.instructor_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_taught_quiz_ids() is 'Ids of the quizzes in the courses the signed-in user teaches.';

create or replace function lms_private.my_attempt_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(a.id), '{}') from lms_public.quiz_attempts a join lms_public.enrollments e on e.id = a.enrollment_id
  where e.student_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_attempt_ids() is 'Ids of the signed-in student''s own quiz attempts.';

create or replace function lms_private.my_certificate_visibility(p_student_id uuid, p_course_id uuid) returns boolean
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select p_student_id = lms_private.current_user_id() or lms_private.is_admin()
      or exists (select from lms_public.courses c where c.id = p_course_id and c.instructor_id = lms_private.current_user_id())
$$;
comment on function lms_private.my_certificate_visibility(uuid, uuid) is 'Whether the signed-in user may see a certificate: its holder, the course''s instructor, or an admin.';

--------------------------------------------------------------------------------
-- Execute grants: the policies run as the visitor, so each helper is granted to the roles
-- whose policies call it.

select lms_private.grant_domain_functions(
  everyone => array['current_user_id', 'is_admin', 'my_taught_course_ids', 'my_entitled_course_ids', 'my_enrollment_ids'],
  signed_in => array['my_taught_lesson_ids', 'my_taught_quiz_ids', 'my_attempt_ids', 'my_certificate_visibility']
);
--! EndIncluded access.sql
--! Included functions/learning.sql
-- Learning: the functions of enrollment and lesson progress, whose derived numbers are kept true
-- at every commit, and their execute grants. Re-runnable: included by every migration that changes it.
--
-- Invariants of an enrollment, after every statement that touches its progress or its
-- course's lessons (lms_private.recalculate_enrollment):
--   total_lessons_count      = the course's counting lessons
--   completed_lessons_count  = its completed lesson_progress rows for lessons that still count
--   progress_percentage      = round(100 * completed / total, 2), 0 when total is 0, never above 100
--   total_time_spent_seconds = the sum over its lesson_progress
--   started_at / last_accessed_at = the first / latest activity
--   status becomes 'completed' (and completed_at is set, once) when every counting lesson is
--   complete; a completion already earned stays earned when new lessons arrive.
--
-- Locking: an operation locks the lesson (KEY SHARE), then its enrollment row (NO KEY UPDATE),
-- then writes progress. A change to a course's lessons takes the course's content lock
-- (exclusive; enroll takes it shared) and recalculates every enrollment of the course,
-- locking them in id order. One order everywhere: no deadlocks, no lost updates.

select lms_private.begin_domain_functions();

create or replace function lms_private.recalculate_enrollments(p_course_id uuid, p_enrollment_id uuid default null) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- A change to the course's lessons excludes enrollments in progress (see lms_public.enroll),
  -- so that no new enrollment misses it.
  if p_enrollment_id is null then
    perform pg_advisory_xact_lock(hashtext('lms:course-content:' || p_course_id));
  end if;
  -- Lock first, in id order (the order every writer follows); then read in a new statement,
  -- so that progress committed while we waited is counted.
  perform 1 from lms_public.enrollments e
  where e.course_id = p_course_id and (p_enrollment_id is null or e.id = p_enrollment_id)
  order by e.id for no key update;
  with counting as (
    select id from lms_private.counting_lesson_ids(p_course_id) as c(id)
  ), facts as (
    select e.id,
           (select count(*) from counting)::integer as total,
           count(p.id) filter (where p.status = 'completed' and p.lesson_id in (select id from counting))::integer as completed,
           coalesce(sum(p.time_spent_seconds), 0)::integer as time_spent,
           min(p.started_at) as started,
           max(greatest(p.last_accessed_at, p.started_at, p.completed_at)) as last_access
    from lms_public.enrollments e
    left join lms_public.lesson_progress p on p.enrollment_id = e.id
    where e.course_id = p_course_id and (p_enrollment_id is null or e.id = p_enrollment_id)
    group by e.id
  ), target as (
    select f.*, case when e.status = 'active' and f.total > 0 and f.completed = f.total then 'completed' else e.status end as status
    from facts f join lms_public.enrollments e on e.id = f.id
  )
  update lms_public.enrollments e set
    total_lessons_count = t.total,
    completed_lessons_count = t.completed,
    progress_percentage = case when t.total = 0 then 0 else round(100.0 * t.completed / t.total, 2) end,
    total_time_spent_seconds = t.time_spent,
    started_at = t.started,
    last_accessed_at = t.last_access,
    status = t.status,
    completed_at = case when t.status = 'completed' then coalesce(e.completed_at, now()) else e.completed_at end
  from target t
  where e.id = t.id
    and (e.total_lessons_count, e.completed_lessons_count, e.total_time_spent_seconds, e.started_at, e.last_accessed_at, e.status)
        is distinct from (t.total, t.completed, t.time_spent, t.started, t.last_access, t.status);
end
$$;
comment on function lms_private.recalculate_enrollments(uuid, uuid) is 'Brings a course''s enrollments (or one of them) back to their invariants in one set-based statement, under their row locks taken in id order. One enrollment costs O(lessons of the course).';

create or replace function lms_private.recalculate_enrollment(p_enrollment_id uuid) returns void
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.recalculate_enrollments(e.course_id, e.id) from lms_public.enrollments e where e.id = p_enrollment_id
$$;
comment on function lms_private.recalculate_enrollment(uuid) is 'Brings one enrollment back to its invariants.';

create or replace function lms_private.recalculate_course_enrollments(p_course_id uuid) returns void
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.recalculate_enrollments(p_course_id)
$$;
comment on function lms_private.recalculate_course_enrollments(uuid) is 'Recalculates every enrollment of a course at once; run when the course''s lessons change.';

-- One statement trigger function per table, for INSERT, UPDATE and DELETE: a trigger with
-- transition tables has one event, and PL/pgSQL plans only the branch its event takes.

create or replace function lms_private.tg_lesson_progress__recalculate() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_ids uuid[];
  v_id uuid;
begin
  if tg_op = 'INSERT' then
    select array_agg(distinct enrollment_id) into v_ids from new_rows;
  elsif tg_op = 'DELETE' then
    select array_agg(distinct enrollment_id) into v_ids from old_rows;
  else
    select array_agg(distinct x.enrollment_id) into v_ids
    from (select enrollment_id from new_rows union select enrollment_id from old_rows) x;
  end if;
  for v_id in select unnest(v_ids) order by 1 loop
    perform lms_private.recalculate_enrollment(v_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_lesson_progress__recalculate() is 'Statement trigger: recalculates the enrollments whose progress rows were inserted, updated or deleted.';

create or replace function lms_private.tg_lessons__recalculate_courses() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_ids uuid[];
  v_id uuid;
begin
  if tg_op = 'INSERT' then
    select array_agg(distinct course_id) into v_ids from new_rows;
  elsif tg_op = 'DELETE' then
    select array_agg(distinct course_id) into v_ids from old_rows;
  else
    -- Titles, bodies and order do not change what counts; archiving, sections and types do.
    select array_agg(distinct x.course_id) into v_ids from (
      select n.course_id from new_rows n join old_rows o on o.id = n.id
      where (n.archived_at, n.parent_lesson_id, n.lesson_type) is distinct from (o.archived_at, o.parent_lesson_id, o.lesson_type)
      union
      select o.course_id from new_rows n join old_rows o on o.id = n.id
      where o.parent_lesson_id is distinct from n.parent_lesson_id
    ) x;
  end if;
  for v_id in select unnest(v_ids) order by 1 loop
    perform lms_private.recalculate_course_enrollments(v_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_lessons__recalculate_courses() is 'Statement trigger: when lessons are added, deleted, archived, moved under a section or change type, every enrollment of their courses is recalculated.';

create or replace function lms_private.tg_quizzes__recalculate_courses() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lesson_ids uuid[];
  v_id uuid;
begin
  if tg_op = 'INSERT' then
    select array_agg(lesson_id) into v_lesson_ids from new_rows;
  elsif tg_op = 'DELETE' then
    select array_agg(lesson_id) into v_lesson_ids from old_rows;
  else
    -- Only a change of type or of lesson changes what counts.
    select array_agg(x.lesson_id) into v_lesson_ids from (
      select n.lesson_id from new_rows n join old_rows o on o.id = n.id
      where (n.quiz_type, n.lesson_id) is distinct from (o.quiz_type, o.lesson_id)
      union
      select o.lesson_id from new_rows n join old_rows o on o.id = n.id where n.lesson_id <> o.lesson_id
    ) x;
  end if;
  for v_id in select distinct l.course_id from lms_public.lessons l where l.id = any(v_lesson_ids) order by 1 loop
    perform lms_private.recalculate_course_enrollments(v_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_quizzes__recalculate_courses() is 'Statement trigger: a quiz added, removed or switched between practice and graded changes whether its lesson counts.';

--------------------------------------------------------------------------------
-- Enrollment.

create or replace function lms_public.enroll(course_id uuid) returns lms_public.enrollments
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_course lms_public.courses;
  v_enrollment lms_public.enrollments;
  v_access record; -- lms_public.course_access_decision, defined after this file
begin
  -- Shared with other enrollments, exclusive of lesson changes: a lesson added meanwhile is counted.
  perform pg_advisory_xact_lock_shared(hashtext('lms:course-content:' || enroll.course_id));
  select * into v_course from lms_public.courses c where c.id = enroll.course_id;
  select * into v_enrollment from lms_public.enrollments e
  where e.student_id = v_user_id and e.course_id = enroll.course_id for no key update;
  -- The access rule (functions/payments.sql) decides; the enrollment records its decision.
  v_access := lms_private.course_access_of(v_user_id, enroll.course_id);
  if v_enrollment.id is not null and v_enrollment.status in ('active', 'completed') and v_access.has_access then
    perform lms_private.apply_course_access(v_enrollment.id);
    select * into v_enrollment from lms_public.enrollments e where e.id = v_enrollment.id;
    return v_enrollment;
  end if;
  if v_course.id is null or not v_course.is_published then
    raise exception using errcode = 'NTFND', message = 'no such course in the catalog';
  end if;
  if not v_access.has_access then
    raise exception using errcode = 'PAYRQ', message = case v_access.reason
      when 'refunded' then format('your payment for this course was refunded: it costs %s %s', v_course.price, v_course.currency)
      when 'subscription_ended' then format('your subscription no longer covers this course: it costs %s %s', v_course.price, v_course.currency)
      else format('this course costs %s %s: pay for it to enroll', v_course.price, v_course.currency) end;
  end if;
  if v_enrollment.id is null then
    -- A concurrent enroll may have inserted first: then use its row.
    insert into lms_public.enrollments (student_id, course_id) values (v_user_id, v_course.id)
    on conflict on constraint enrollments_student_id_course_id_key do nothing
    returning * into v_enrollment;
    if v_enrollment.id is null then
      select * into v_enrollment from lms_public.enrollments e where e.student_id = v_user_id and e.course_id = v_course.id;
    end if;
  else
    update lms_public.enrollments e set status = 'active' where e.id = v_enrollment.id;
  end if;
  perform lms_private.apply_course_access(v_enrollment.id);
  perform lms_private.recalculate_enrollment(v_enrollment.id);
  select * into v_enrollment from lms_public.enrollments e where e.id = v_enrollment.id;
  return v_enrollment;
end
$$;
comment on function lms_public.enroll(uuid) is E'@resultFieldName enrollment\nEnrolls the signed-in user in a published course they may enter (see courseAccess): a free course, one they bought, or one their subscription grants. PAYRQ without access, NTFND for a course not in the catalog. Enrolling again returns the enrollment; after dropping it, or after it expired and access came back, the same enrollment becomes active again, with its progress. The enrollment records the payment or subscription that justifies it.';

create or replace function lms_public.drop_course(course_id uuid) returns lms_public.enrollments
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_enrollment lms_public.enrollments;
begin
  select * into v_enrollment from lms_public.enrollments e
  where e.student_id = v_user_id and e.course_id = drop_course.course_id for no key update;
  if v_enrollment.id is null then
    raise exception using errcode = 'NTFND', message = 'you are not enrolled in this course';
  end if;
  if v_enrollment.status = 'completed' then
    raise exception using errcode = 'INVAL', message = 'a completed course cannot be dropped';
  end if;
  update lms_public.enrollments e set status = 'dropped' where e.id = v_enrollment.id returning * into v_enrollment;
  return v_enrollment;
end
$$;
comment on function lms_public.drop_course(uuid) is E'@resultFieldName enrollment\nDrops the signed-in user''s active enrollment in a course; enrolling again reactivates it.';

--------------------------------------------------------------------------------
-- Progress.

create or replace function lms_private.lock_progress(p_lesson_id uuid)
  returns table (enrollment_id uuid, lesson lms_public.lessons)
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_lesson lms_public.lessons;
  v_enrollment_id uuid;
begin
  -- Lesson first, then enrollment: the order every writer follows.
  select * into v_lesson from lms_public.lessons l where l.id = p_lesson_id for key share;
  if v_lesson.id is null or v_lesson.archived_at is not null then
    raise exception using errcode = 'NTFND', message = 'no such lesson';
  end if;
  select e.id into v_enrollment_id from lms_public.enrollments e
  where e.student_id = v_user_id and e.course_id = v_lesson.course_id and e.status in ('active', 'completed')
  for no key update;
  if v_enrollment_id is null then
    raise exception using errcode = 'FRBDN', message = 'enroll in the course first';
  end if;
  -- The enrollment follows the access rule, but a lapse that no event announced reaches it only
  -- with the sweep: ask the rule itself.
  if not (lms_private.course_access_of(v_user_id, v_lesson.course_id)).has_access then
    raise exception using errcode = 'PAYRQ', message = 'your access to this course has ended';
  end if;
  if exists (select from lms_public.lessons c where c.parent_lesson_id = v_lesson.id and c.archived_at is null) then
    raise exception using errcode = 'INVAL', message = 'this lesson is a section; work on its lessons';
  end if;
  return query select v_enrollment_id, v_lesson;
end
$$;
comment on function lms_private.lock_progress(uuid) is 'Checks that the signed-in user may work on a lesson (NTFND, FRBDN, PAYRQ when the access rule says their access ended, INVAL for a section) and locks it and their enrollment, in that order.';

create or replace function lms_public.start_lesson(lesson_id uuid) returns lms_public.lesson_progress
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lock record;
  v_progress lms_public.lesson_progress;
begin
  select * into v_lock from lms_private.lock_progress(start_lesson.lesson_id);
  insert into lms_public.lesson_progress as p (enrollment_id, lesson_id, status, started_at, last_accessed_at)
  values (v_lock.enrollment_id, start_lesson.lesson_id, 'in_progress', now(), now())
  on conflict on constraint lesson_progress_enrollment_id_lesson_id_key do update
    set status = case when p.status = 'not_started' then 'in_progress' else p.status end,
        started_at = coalesce(p.started_at, now()),
        last_accessed_at = now()
  returning * into v_progress;
  return v_progress;
end
$$;
comment on function lms_public.start_lesson(uuid) is E'@resultFieldName lessonProgress\nMarks a lesson started for the signed-in student (FRBDN when not enrolled).';

create or replace function lms_public.record_lesson_progress(lesson_id uuid, position_seconds integer, seconds_spent integer) returns lms_public.lesson_progress
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lock record;
  v_progress lms_public.lesson_progress;
  v_position integer;
  v_since_last integer;
  v_spent integer;
begin
  if position_seconds is null or seconds_spent is null or position_seconds < 0 or seconds_spent < 0 then
    raise exception using errcode = 'INVAL', message = 'position and time spent must be zero or more seconds';
  end if;
  select * into v_lock from lms_private.lock_progress(record_lesson_progress.lesson_id);
  v_position := case when (v_lock.lesson).duration_minutes is null then position_seconds
                     else least(position_seconds, (v_lock.lesson).duration_minutes * 60) end;
  select * into v_progress from lms_public.lesson_progress p
  where p.enrollment_id = v_lock.enrollment_id and p.lesson_id = record_lesson_progress.lesson_id;
  -- No more time than has passed since the last heartbeat (or the start).
  -- Whole seconds, rounded down: rapid heartbeats must not each earn a second.
  v_since_last := coalesce(floor(extract(epoch from clock_timestamp() - coalesce(v_progress.last_accessed_at, v_progress.started_at)))::integer, 0);
  v_spent := least(seconds_spent, greatest(v_since_last, 0));
  insert into lms_public.lesson_progress as p (enrollment_id, lesson_id, status, started_at, last_accessed_at, last_position_seconds, time_spent_seconds, completion_percentage)
  values (v_lock.enrollment_id, record_lesson_progress.lesson_id, 'in_progress', now(), clock_timestamp(), v_position, v_spent,
          case when (v_lock.lesson).duration_minutes > 0 then least(100, round(100.0 * v_position / ((v_lock.lesson).duration_minutes * 60), 2)) else 0 end)
  on conflict on constraint lesson_progress_enrollment_id_lesson_id_key do update
    set status = case when p.status = 'not_started' then 'in_progress' else p.status end,
        started_at = coalesce(p.started_at, now()),
        last_accessed_at = clock_timestamp(),
        last_position_seconds = excluded.last_position_seconds,
        time_spent_seconds = p.time_spent_seconds + excluded.time_spent_seconds,
        completion_percentage = greatest(p.completion_percentage, excluded.completion_percentage)
  returning * into v_progress;
  return v_progress;
end
$$;
comment on function lms_public.record_lesson_progress(uuid, integer, integer) is E'@resultFieldName lessonProgress\nA heartbeat while a student works on a lesson: the position is clamped to the lesson''s duration, and the time spent to the wall-clock time since the previous heartbeat. Negative values are refused (INVAL).';

create or replace function lms_public.complete_lesson(lesson_id uuid) returns lms_public.lesson_progress
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lock record;
  v_progress lms_public.lesson_progress;
  v_min_percent smallint;
  v_required integer;
begin
  select * into v_lock from lms_private.lock_progress(complete_lesson.lesson_id);
  if (v_lock.lesson).lesson_type = 'quiz' then
    raise exception using errcode = 'INVAL', message = 'a quiz lesson is completed by passing its graded quiz';
  end if;
  if (v_lock.lesson).lesson_type = 'video' and (v_lock.lesson).duration_minutes > 0 then
    select c.min_video_watch_percent into v_min_percent from lms_public.courses c where c.id = (v_lock.lesson).course_id;
    v_required := ceil((v_lock.lesson).duration_minutes * 60 * v_min_percent / 100.0);
    select * into v_progress from lms_public.lesson_progress p
    where p.enrollment_id = v_lock.enrollment_id and p.lesson_id = complete_lesson.lesson_id;
    -- Both, because each alone is cheap to fake: a seek moves the position without watching, and a
    -- paused tab left open earns time without getting anywhere. A completion already earned stands.
    if v_progress.status is distinct from 'completed'
       and (coalesce(v_progress.time_spent_seconds, 0) < v_required or coalesce(v_progress.completion_percentage, 0) < v_min_percent) then
      raise exception using errcode = 'WATCH',
        message = format('watch at least %s%% of this video first: %s of the %s seconds needed watched, furthest position %s%%',
                         v_min_percent, coalesce(v_progress.time_spent_seconds, 0), v_required, coalesce(v_progress.completion_percentage, 0));
    end if;
  end if;
  insert into lms_public.lesson_progress as p (enrollment_id, lesson_id, status, started_at, completed_at, last_accessed_at, completion_percentage)
  values (v_lock.enrollment_id, complete_lesson.lesson_id, 'completed', now(), now(), now(), 100)
  on conflict on constraint lesson_progress_enrollment_id_lesson_id_key do update
    set status = 'completed',
        started_at = coalesce(p.started_at, now()),
        completed_at = coalesce(p.completed_at, now()),
        last_accessed_at = now(),
        completion_percentage = 100
  returning * into v_progress;
  return v_progress;
end
$$;
comment on function lms_public.complete_lesson(uuid) is E'@resultFieldName lessonProgress\nCompletes a video, text or assignment lesson for the signed-in student; the enrollment''s progress follows in the same transaction. A video with a duration needs its course''s `minVideoWatchPercent` of it watched first, as recorded by `recordLessonProgress`: that share of its duration in time spent, and a furthest position at least that far (WATCH).';

create or replace function lms_public.enrollments_has_new_content(e lms_public.enrollments) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select e.status = 'completed' and e.completed_lessons_count < e.total_lessons_count
$$;
comment on function lms_public.enrollments_has_new_content(lms_public.enrollments) is 'True when the course gained lessons after this enrollment was completed: the completion stands, and the percentage shows what is new.';

create or replace function lms_public.enrollments_student_name(e lms_public.enrollments) returns text
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select u.full_name::text from lms_public.enrollments en join lms_public.users u on u.id = en.student_id
  where en.id = e.id
    and (en.student_id = lms_private.current_user_id() or lms_private.can_manage_course(en.course_id))
$$;
comment on function lms_public.enrollments_student_name(lms_public.enrollments) is 'The enrolled student''s name, for the student and the course''s instructor (not their email).';

--------------------------------------------------------------------------------
-- Execute grants. Everything not named here runs only inside definer functions or triggers.

select lms_private.grant_domain_functions(
  everyone => array['enroll', 'drop_course', 'start_lesson', 'record_lesson_progress', 'complete_lesson',
    'enrollments_has_new_content', 'enrollments_student_name']
);
--! EndIncluded functions/learning.sql
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
-- Execute grants. The access rule answers for any user, so course_access_of runs only inside
-- definer functions, triggers and the worker; visitors ask about themselves through course_access.

select lms_private.grant_domain_functions(
  everyone => array['course_access', 'courses_revenue']
);
--! EndIncluded functions/payments.sql
--! Included triggers/payments.sql
-- Payments: the triggers on plans, payments and subscriptions. Re-runnable: included by every
-- migration that changes it, after the functions.

drop trigger if exists _100_set_updated_at on lms_public.plans;
create trigger _100_set_updated_at before update on lms_public.plans
  for each row execute function lms_private.tg__set_updated_at();

drop trigger if exists _500_sync_access on lms_public.plans;
create trigger _500_sync_access after update of grants, granted_categories, granted_course_ids on lms_public.plans
  for each row execute function lms_private.tg_plans__sync_access();

drop trigger if exists _100_set_updated_at on lms_public.payments;
create trigger _100_set_updated_at before update on lms_public.payments
  for each row execute function lms_private.tg__set_updated_at();

drop trigger if exists _200_check_transition on lms_public.payments;
create trigger _200_check_transition before update of status on lms_public.payments
  for each row execute function lms_private.tg_payments__check_transition();

drop trigger if exists _500_sync_access on lms_public.payments;
create trigger _500_sync_access after insert or update of status, course_id, user_id on lms_public.payments
  for each row execute function lms_private.tg_payments__sync_access();

drop trigger if exists _100_set_updated_at on lms_public.subscriptions;
create trigger _100_set_updated_at before update on lms_public.subscriptions
  for each row execute function lms_private.tg__set_updated_at();

drop trigger if exists _200_check_transition on lms_public.subscriptions;
create trigger _200_check_transition before insert or update on lms_public.subscriptions
  for each row execute function lms_private.tg_subscriptions__check_transition();

drop trigger if exists _500_sync_access on lms_public.subscriptions;
create trigger _500_sync_access after insert or update of status, current_period_end, past_due_since, plan_id, user_id on lms_public.subscriptions
  for each row execute function lms_private.tg_subscriptions__sync_access();
--! EndIncluded triggers/payments.sql
--! Included policies/payments.sql
-- Payments: row level security, grants and policies of plans, payments, subscriptions and Stripe
-- webhook events. Re-runnable: included by every migration that changes it.

alter table lms_public.plans enable row level security;
alter table lms_public.payments enable row level security;
alter table lms_public.subscriptions enable row level security;
alter table lms_private.payment_webhook_events enable row level security;

revoke all on lms_public.plans, lms_public.payments, lms_public.subscriptions, lms_private.payment_webhook_events,
  lms_public.webhook_events
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

-- payment_webhook_events never gets a visitor grant: only the webhook route and the worker write
-- it. Admins read it through the webhook_events view, which runs as its owner and shows rows to
-- admins only (its where clause), without the payloads.
grant select on lms_public.webhook_events to lms_admin;
--! EndIncluded policies/payments.sql
