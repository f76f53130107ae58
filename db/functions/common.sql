-- Shared helpers: the request's identity, the job queue wrapper, updated_at.
-- Re-runnable: included by every migration that changes it.

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

create or replace function lms_private.add_job(
  identifier text,
  payload jsonb default '{}'::jsonb,
  job_key text default null,
  run_at timestamptz default null,
  max_attempts integer default null
) returns void
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform graphile_worker.add_job(
    identifier => identifier,
    payload => payload::json,
    job_key => job_key,
    run_at => run_at,
    max_attempts => max_attempts
  );
end
$$;
comment on function lms_private.add_job(text, jsonb, text, timestamptz, integer) is 'Queues a graphile-worker job in the caller''s transaction, so that visitor roles need no rights on the graphile_worker schema. A job_key de-duplicates.';

create or replace function lms_private.tg__set_updated_at() returns trigger
  language plpgsql
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  new.updated_at := now();
  return new;
end
$$;
comment on function lms_private.tg__set_updated_at() is 'Trigger: keeps updated_at at the time of the latest change.';

revoke all on function lms_private.current_user_id() from public;
revoke all on function lms_private.is_admin() from public;
revoke all on function lms_private.add_job(text, jsonb, text, timestamptz, integer) from public;
revoke all on function lms_private.tg__set_updated_at() from public;
grant execute on function lms_private.current_user_id() to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant execute on function lms_private.is_admin() to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant execute on function lms_private.add_job(text, jsonb, text, timestamptz, integer) to lms_student, lms_instructor, lms_admin;
