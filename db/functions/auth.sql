-- Identity: who the request is, password rows, session clean-up.
-- Re-runnable: included by every migration that changes it.

create or replace function lms_public.current_user_profile() returns lms_public.users
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select u.* from lms_public.users u where u.id = lms_private.current_user_id()
$$;
comment on function lms_public.current_user_profile() is E'@name current_user\nThe signed-in user, or null when anonymous.';
revoke all on function lms_public.current_user_profile() from public;
grant execute on function lms_public.current_user_profile() to lms_anonymous, lms_student, lms_instructor, lms_admin;

create or replace function lms_private.tg_users__require_password() returns trigger
  language plpgsql
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if exists (select from lms_public.users u where u.id = new.id)
     and not exists (select from lms_private.user_passwords p where p.user_id = new.id) then
    raise exception using errcode = 'not_null_violation',
      message = 'a user needs a password (lms_private.user_passwords) by the end of the transaction',
      table = 'users', column = 'password_hash';
  end if;
  return null;
end
$$;
comment on function lms_private.tg_users__require_password() is 'Constraint trigger: keeps the design document''s users.password_hash NOT NULL across the 1:1 split.';
revoke all on function lms_private.tg_users__require_password() from public;

create or replace function lms_private.purge_expired_refresh_tokens() returns integer
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  with purged as (
    delete from lms_private.refresh_tokens where expires_at < now() returning 1
  )
  select count(*)::integer from purged
$$;
comment on function lms_private.purge_expired_refresh_tokens() is 'Deletes refresh tokens past their expiry and returns how many; run by the refresh_tokens__purge_expired job.';
revoke all on function lms_private.purge_expired_refresh_tokens() from public;
