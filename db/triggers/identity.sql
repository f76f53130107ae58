-- Identity: the triggers on users and the audit log. Re-runnable: included by every migration
-- that changes it, after the functions. PostgreSQL fires a table's triggers in name order.

drop trigger if exists _100_set_updated_at on lms_public.users;
create trigger _100_set_updated_at before update on lms_public.users
  for each row execute function lms_private.tg__set_updated_at();

-- Deferred to the end of the transaction: the password row is inserted after the user row.
drop trigger if exists _900_require_password on lms_public.users;
create constraint trigger _900_require_password after insert on lms_public.users
  deferrable initially deferred
  for each row execute function lms_private.tg_users__require_password();

drop trigger if exists _100_append_only on lms_private.security_events;
create trigger _100_append_only before update or delete on lms_private.security_events
  for each row execute function lms_private.tg__append_only();

drop trigger if exists _101_append_only_truncate on lms_private.security_events;
create trigger _101_append_only_truncate before truncate on lms_private.security_events
  for each statement execute function lms_private.tg__append_only();
