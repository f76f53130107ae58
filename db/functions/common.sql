-- Shared by every domain: the tools the db/ files use to define their functions, types and
-- grants; the one way settings reach SQL; the job queue wrapper; shared trigger functions.
-- Re-runnable: included by every migration that changes it. Runs first.

--------------------------------------------------------------------------------
-- A domain's execute grants. Each functions file opens with begin_domain_functions() and ends
-- with grant_domain_functions(...): the functions the file (re)created between the two are the
-- domain's, because CREATE OR REPLACE always writes a new pg_proc row version. So no list of
-- the domain's functions is kept by hand, and a function moved to another file follows it.

create or replace function lms_private.begin_domain_functions() returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if to_regclass('pg_temp.domain_functions_before') is null then
    create temp table domain_functions_before (function_oid oid, row_version tid) on commit drop;
  end if;
  truncate pg_temp.domain_functions_before;
  insert into pg_temp.domain_functions_before (function_oid, row_version)
  select p.oid, p.ctid from pg_proc p where p.pronamespace in ('lms_public'::regnamespace, 'lms_private'::regnamespace);
end
$$;
comment on function lms_private.begin_domain_functions() is 'Opens a db/functions file: remembers every function''s row version, so that grant_domain_functions knows which functions the file defined.';
-- Defined before the first begin_domain_functions() call, so outside every domain: revoked here.
revoke all on function lms_private.begin_domain_functions() from public;

select lms_private.begin_domain_functions();

create or replace function lms_private.grant_domain_functions(
  everyone text[] default '{}',
  signed_in text[] default '{}',
  teachers text[] default '{}',
  admins text[] default '{}',
  authenticator text[] default '{}'
) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_function regprocedure;
  v_audience record;
  v_unknown text[];
begin
  -- Every function the file defined loses every grant, so that a removed grant really goes.
  for v_function in
    select p.oid::regprocedure from pg_proc p
    where p.pronamespace in ('lms_public'::regnamespace, 'lms_private'::regnamespace)
      and not exists (select from pg_temp.domain_functions_before b where b.function_oid = p.oid and b.row_version = p.ctid)
  loop
    execute format('revoke all on function %s from public, lms_anonymous, lms_student, lms_instructor, lms_admin, lms_authenticator', v_function);
  end loop;
  -- Then each audience gets execute on the functions named for it, by name among the file's own.
  for v_audience in
    select a.names, a.roles from (values
      (everyone, 'lms_anonymous, lms_student, lms_instructor, lms_admin'),
      (signed_in, 'lms_student, lms_instructor, lms_admin'),
      (teachers, 'lms_instructor, lms_admin'),
      (admins, 'lms_admin'),
      (authenticator, 'lms_authenticator')) as a(names, roles)
  loop
    select array_agg(n) into v_unknown from unnest(v_audience.names) n
    where not exists (
      select from pg_proc p
      where p.proname = n and p.pronamespace in ('lms_public'::regnamespace, 'lms_private'::regnamespace)
        and not exists (select from pg_temp.domain_functions_before b where b.function_oid = p.oid and b.row_version = p.ctid));
    if v_unknown is not null then
      raise exception 'grant_domain_functions: % not defined in this file', array_to_string(v_unknown, ', ');
    end if;
    for v_function in
      select p.oid::regprocedure from pg_proc p
      where p.proname = any(v_audience.names) and p.pronamespace in ('lms_public'::regnamespace, 'lms_private'::regnamespace)
        and not exists (select from pg_temp.domain_functions_before b where b.function_oid = p.oid and b.row_version = p.ctid)
    loop
      execute format('grant execute on function %s to %s', v_function, v_audience.roles);
    end loop;
  end loop;
end
$$;
comment on function lms_private.grant_domain_functions(text[], text[], text[], text[], text[]) is 'Closes a db/functions file: revokes every grant on the functions it defined (PUBLIC''s too), then grants execute on those named to each audience: everyone (anonymous included), signed_in, teachers (instructors and admins), admins, and the authenticator. A name the file did not define is an error.';

--------------------------------------------------------------------------------
-- Composite types, so that editing a definition takes effect.

create or replace function lms_private.define_composite_type(p_name text, p_attributes text) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_schema text := split_part(p_name, '.', 1);
  v_type text := split_part(p_name, '.', 2);
  v_current regtype := to_regtype(p_name);
  v_function regprocedure;
begin
  if v_current is not null then
    -- The wanted definition as PostgreSQL resolves it (varchar(255) is character varying(255)),
    -- compared with the live one attribute by attribute.
    execute format('create type pg_temp.%I as (%s)', v_type, p_attributes);
    if (select array_agg(format('%s %s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attcollation) order by a.attnum)
        from pg_attribute a join pg_type t on t.typrelid = a.attrelid
        where t.oid = v_current and a.attnum > 0 and not a.attisdropped)
       is not distinct from
       (select array_agg(format('%s %s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attcollation) order by a.attnum)
        from pg_attribute a join pg_type t on t.typrelid = a.attrelid
        where t.oid = to_regtype(format('pg_temp.%I', v_type)) and a.attnum > 0 and not a.attisdropped) then
      execute format('drop type pg_temp.%I', v_type);
      return;
    end if;
    execute format('drop type pg_temp.%I', v_type);
    -- The functions that take or return the type go with it: the same file recreates them,
    -- with their comments and grants. Anything else that uses it (a column, a view) makes the
    -- DROP fail, so that no data is ever dropped with a type.
    for v_function in
      select p.oid::regprocedure from pg_proc p join pg_type t on t.oid = v_current
      where p.prorettype in (t.oid, t.typarray) or coalesce(p.proallargtypes, p.proargtypes::oid[]) && array[t.oid, t.typarray]
    loop
      execute format('drop function %s', v_function);
    end loop;
    execute format('drop type %s', v_current);
  end if;
  execute format('create type %I.%I as (%s)', v_schema, v_type, p_attributes);
end
$$;
comment on function lms_private.define_composite_type(text, text) is 'Creates a composite type, or replaces it when its attributes differ from the given ones, dropping the functions that take or return it first (the calling file recreates them). A re-run with the same attributes changes nothing.';

--------------------------------------------------------------------------------
-- Settings: the callers (the API's pgSettings, the worker, the command-line tools) set every
-- lms.* setting a function needs; SQL keeps no default of its own, so a forgotten one is loud.

create or replace function lms_private.required_setting(p_name text) returns text
  language plpgsql stable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  -- Empty as well as missing: a setting once set in a session reads '' after its transaction.
  v_value text := nullif(current_setting(p_name, true), '');
begin
  if v_value is null then
    raise exception using errcode = 'undefined_object',
      message = format('the setting %s is missing: every caller sets it (the API in pgSettings, the worker and tools per transaction)', p_name);
  end if;
  return v_value;
end
$$;
comment on function lms_private.required_setting(text) is 'The value of a per-transaction lms.* setting; raises when the caller did not set it.';

--------------------------------------------------------------------------------
-- The job queue and shared trigger functions.

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

create or replace function lms_private.tg__append_only() returns trigger
  language plpgsql
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  raise exception using errcode = 'FRBDN', message = format('%s is append-only', tg_table_name);
end
$$;
comment on function lms_private.tg__append_only() is 'Trigger: refuses UPDATE, DELETE and TRUNCATE on an append-only table.';

--------------------------------------------------------------------------------
-- Execute grants. The tools above run only as the owner, inside migrations.

select lms_private.grant_domain_functions(
  -- bcrypt_cost() reads it, and bcrypt_cost() is callable by everyone.
  everyone => array['required_setting'],
  signed_in => array['add_job']
);
