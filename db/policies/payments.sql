-- Payments: row level security, grants and policies of payments, subscriptions and Stripe webhook events.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.payments enable row level security;
alter table lms_public.subscriptions enable row level security;
alter table lms_private.payment_webhook_events enable row level security;

revoke all on lms_public.payments, lms_public.subscriptions, lms_private.payment_webhook_events
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- No grant and no policy yet: RLS denies every visitor until the Payments rules.
-- payment_webhook_events never gets a visitor grant: only the webhook route and worker write it.
