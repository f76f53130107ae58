-- Payments: the triggers on payments and subscriptions. Re-runnable: included by every
-- migration that changes it, after the functions.

drop trigger if exists _100_set_updated_at on lms_public.payments;
create trigger _100_set_updated_at before update on lms_public.payments
  for each row execute function lms_private.tg__set_updated_at();

drop trigger if exists _100_set_updated_at on lms_public.subscriptions;
create trigger _100_set_updated_at before update on lms_public.subscriptions
  for each row execute function lms_private.tg__set_updated_at();
