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
