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
