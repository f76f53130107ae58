--! Previous: sha1:9657cb0f0d64ef3ba2e07b9bdbb9f53c3b86db77
--! Hash: sha1:e78f0df7356b46568a41c18a6250cf113c315e94
--! Message: db/ as the whole current truth: functions, triggers, types, grants and policies one file per concern, re-runnable; domain execute grants computed; settings required, not defaulted

-- db/ as the whole current truth: every file, in dependency order. Functions first (common's
-- tools, then the access helpers the others use, then each domain), then the triggers that call
-- them, then the policies that call the access helpers.
--! Included functions/common.sql
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
--! EndIncluded functions/common.sql
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

create or replace function lms_private.my_entitled_course_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(e.course_id), '{}') from lms_public.enrollments e
  where e.student_id = lms_private.current_user_id() and e.status in ('active', 'completed')
$$;
comment on function lms_private.my_entitled_course_ids() is 'Ids of the courses the signed-in user is enrolled in (active or completed): their lessons are theirs to read, published or not.';

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
--! Included functions/identity.sql
-- Identity: the functions of accounts, passwords, sessions, email tokens, TOTP MFA, lockout,
-- rate limits and the audit log, and their execute grants. Re-runnable: included by every
-- migration that changes it.
--
-- Errors a client can act on (see README): CREDS invalid credentials, LOCKD locked,
-- MFARQ MFA code required, MFABD invalid MFA code, MFAON/MFAOF MFA already on/off,
-- TKRUS refresh token reused, TKROT refresh token just rotated, TKEXP token invalid or expired,
-- EMTKN email taken, WEAKP weak password, DISBL account disabled, NOAUT not signed in,
-- FRBDN forbidden, NTFND not found, INVAL invalid input.
-- Functions that must record a failure (login, refresh) return a status instead of raising,
-- so that the record commits; the API turns the status into the error.

select lms_private.begin_domain_functions();

--------------------------------------------------------------------------------
-- The request, as the API describes it in pgSettings.

create or replace function lms_private.client_ip() returns inet
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select nullif(current_setting('lms.client_ip', true), '')::inet
$$;
comment on function lms_private.client_ip() is 'The client''s IP address (lms.client_ip, set by the API), or null.';

create or replace function lms_private.current_session_id() returns uuid
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select nullif(current_setting('jwt.claims.session_id', true), '')::uuid
$$;
comment on function lms_private.current_session_id() is 'The session (refresh-token chain) the access token belongs to, from jwt.claims.session_id.';

create or replace function lms_private.bcrypt_cost() returns integer
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select greatest(4, least(15, lms_private.required_setting('lms.bcrypt_cost')::integer))
$$;
comment on function lms_private.bcrypt_cost() is 'bcrypt cost for new hashes: lms.bcrypt_cost, which every caller sets (LMS_BCRYPT_COST, at least 10 in production), kept within 4..15; raises when it is not set.';

create or replace function lms_private.require_user() returns uuid
  language plpgsql stable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.current_user_id();
begin
  if v_user_id is null then
    raise exception using errcode = 'NOAUT', message = 'sign in first';
  end if;
  return v_user_id;
end
$$;
comment on function lms_private.require_user() is 'The signed-in user''s id; raises NOAUT when anonymous.';

create or replace function lms_private.require_admin() returns uuid
  language plpgsql stable
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if not lms_private.is_admin() then
    raise exception using errcode = 'FRBDN', message = 'only admins may do this';
  end if;
  return lms_private.require_user();
end
$$;
comment on function lms_private.require_admin() is 'The signed-in admin''s id; raises FRBDN for anyone else.';

create or replace function lms_private.session_role(p_user_id uuid) returns text
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select u.role from lms_public.users u where u.id = p_user_id and u.is_active
$$;
comment on function lms_private.session_role(uuid) is 'The role an access token''s user has now, or null when the user is deactivated or gone; checked on every request, so role changes and deactivation apply at once.';

--------------------------------------------------------------------------------
-- Audit log: append-only.

create or replace function lms_private.log_security_event(
  p_event_type text,
  p_user_id uuid,
  p_details jsonb default '{}'::jsonb,
  p_actor_id uuid default null
) returns void
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  insert into lms_private.security_events (event_type, user_id, actor_id, client_ip, details)
  values (p_event_type, p_user_id, p_actor_id, lms_private.client_ip(), coalesce(p_details, '{}'::jsonb))
$$;
comment on function lms_private.log_security_event(text, uuid, jsonb, uuid) is 'Appends a security event, stamped with the client''s IP.';

--------------------------------------------------------------------------------
-- Passwords.

create or replace function lms_private.normalise_email(p_email text) returns text
  language plpgsql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_email text := lower(btrim(coalesce(p_email, '')));
begin
  if v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or char_length(v_email) > 255 then
    raise exception using errcode = 'INVAL', message = 'the email address is not valid';
  end if;
  return v_email;
end
$$;
comment on function lms_private.normalise_email(text) is 'Trims and lower-cases an email address; raises INVAL when it is not one.';

create or replace function lms_private.hash_password(p_password text) returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if p_password is null or char_length(p_password) < 10 then
    raise exception using errcode = 'WEAKP', message = 'the password must be at least 10 characters long';
  end if;
  -- bcrypt reads only the first 72 bytes; a longer password would be silently truncated.
  if octet_length(p_password) > 72 then
    raise exception using errcode = 'WEAKP', message = 'the password must be at most 72 bytes long';
  end if;
  return crypt(p_password, gen_salt('bf', lms_private.bcrypt_cost()));
end
$$;
comment on function lms_private.hash_password(text) is 'bcrypt-hashes a password after checking it: at least 10 characters, at most 72 bytes (WEAKP).';

create or replace function lms_private.password_matches(p_user_id uuid, p_password text) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce((select p.password_hash = crypt(coalesce(p_password, ''), p.password_hash)
                   from lms_private.user_passwords p where p.user_id = p_user_id), false)
$$;
comment on function lms_private.password_matches(uuid, text) is 'Whether the password is the user''s.';

--------------------------------------------------------------------------------
-- Sessions: opaque refresh tokens "<jti>.<secret>".

-- Replaced when its attributes change, with the functions below that use it (see common.sql).
select lms_private.define_composite_type('lms_private.session_grant', $$
  status text,
  user_id uuid,
  role text,
  session_id uuid,
  refresh_token text,
  refresh_expires_at timestamptz
$$);
comment on type lms_private.session_grant is 'What login and refresh return: a status (ok, or why not), and on ok the user, role, session and new refresh token.';

create or replace function lms_private.session_status(p_status text) returns lms_private.session_grant
  language sql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
  select row(p_status, null, null, null, null, null)::lms_private.session_grant
$$;
comment on function lms_private.session_status(text) is 'A session_grant that carries only a status: why there is no session.';

create or replace function lms_private.issue_refresh_token(
  p_user_id uuid,
  p_ttl interval,
  p_session_max interval,
  p_session_id uuid default null,
  p_session_expires_at timestamptz default null
) returns lms_private.session_grant
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_jti text := encode(gen_random_bytes(16), 'hex');
  v_secret text := encode(gen_random_bytes(32), 'hex');
  v_session_id uuid := coalesce(p_session_id, gen_random_uuid());
  v_session_expires_at timestamptz := coalesce(p_session_expires_at, now() + p_session_max);
  v_expires_at timestamptz := least(now() + p_ttl, v_session_expires_at);
  v_role text;
begin
  select u.role into v_role from lms_public.users u where u.id = p_user_id;
  insert into lms_private.refresh_tokens (user_id, token_jti, secret_hash, expires_at, session_id, session_expires_at)
  values (p_user_id, v_jti, digest(v_secret, 'sha256'), v_expires_at, v_session_id, v_session_expires_at);
  return row('ok', p_user_id, v_role, v_session_id, v_jti || '.' || v_secret, v_expires_at)::lms_private.session_grant;
end
$$;
comment on function lms_private.issue_refresh_token(uuid, interval, interval, uuid, timestamptz) is 'Mints a refresh token for a new session, or the next one of an existing session; returns it once.';

create or replace function lms_private.find_refresh_token(p_token text) returns lms_private.refresh_tokens
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select t.* from lms_private.refresh_tokens t
  where coalesce(p_token, '') ~ '^[0-9a-f]{32}\.[0-9a-f]{64}$'
    and t.token_jti = split_part(p_token, '.', 1)
    and t.secret_hash = digest(split_part(p_token, '.', 2), 'sha256')
$$;
comment on function lms_private.find_refresh_token(text) is 'The refresh token row a presented token names, when its secret matches.';

create or replace function lms_private.revoke_refresh_tokens(p_user_id uuid, p_reason text, p_keep_session uuid default null) returns integer
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  with revoked as (
    update lms_private.refresh_tokens t set revoked_at = now(), revoked_reason = p_reason
    where t.user_id = p_user_id and t.revoked_at is null
      and (p_keep_session is null or t.session_id <> p_keep_session)
    returning 1
  )
  select count(*)::integer from revoked
$$;
comment on function lms_private.revoke_refresh_tokens(uuid, text, uuid) is 'Revokes every live refresh token of a user, except those of one session if given; returns how many.';

--------------------------------------------------------------------------------
-- TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) and recovery codes.

create or replace function lms_private.base32_decode(p_text text) returns bytea
  language plpgsql immutable strict
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_alphabet constant text := 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  v_clean text := upper(regexp_replace(p_text, '[\s=-]', '', 'g'));
  v_buffer bigint := 0;
  v_bits integer := 0;
  v_out bytea := '\x'::bytea;
  v_value integer;
begin
  for i in 1 .. char_length(v_clean) loop
    v_value := strpos(v_alphabet, substr(v_clean, i, 1)) - 1;
    if v_value < 0 then
      raise exception using errcode = 'INVAL', message = 'not a base32 secret';
    end if;
    v_buffer := ((v_buffer << 5) | v_value) & 65535;
    v_bits := v_bits + 5;
    if v_bits >= 8 then
      v_bits := v_bits - 8;
      v_out := v_out || set_byte('\x00'::bytea, 0, ((v_buffer >> v_bits) & 255)::integer);
    end if;
  end loop;
  return v_out;
end
$$;
comment on function lms_private.base32_decode(text) is 'Decodes an RFC 4648 base32 string (a TOTP secret) to bytes.';

create or replace function lms_private.totp_code(p_secret text, p_step bigint) returns text
  language plpgsql immutable strict
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_mac bytea := hmac(int8send(p_step), lms_private.base32_decode(p_secret), 'sha1');
  v_offset integer := get_byte(v_mac, 19) & 15;
  v_binary bigint;
begin
  v_binary := ((get_byte(v_mac, v_offset) & 127)::bigint << 24)
            | (get_byte(v_mac, v_offset + 1)::bigint << 16)
            | (get_byte(v_mac, v_offset + 2)::bigint << 8)
            | get_byte(v_mac, v_offset + 3)::bigint;
  return lpad((v_binary % 1000000)::text, 6, '0');
end
$$;
comment on function lms_private.totp_code(text, bigint) is 'The 6-digit TOTP code of a base32 secret for a 30-second step (RFC 6238 / RFC 4226 dynamic truncation).';

create or replace function lms_private.matching_totp_step(p_secret text, p_code text, p_after_step bigint) returns bigint
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  -- One step of clock drift either way; a step at or before p_after_step was already used.
  select s.step
  from generate_series(floor(extract(epoch from clock_timestamp()) / 30)::bigint - 1,
                       floor(extract(epoch from clock_timestamp()) / 30)::bigint + 1) as s(step)
  where p_code ~ '^\d{6}$' and s.step > p_after_step and lms_private.totp_code(p_secret, s.step) = p_code
  order by s.step
  limit 1
$$;
comment on function lms_private.matching_totp_step(text, text, bigint) is 'The time step whose TOTP code is p_code (within one step of now, after p_after_step), or null.';

create or replace function lms_private.normalise_recovery_code(p_code text) returns text
  language sql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
  -- Recovery codes are issued as xxxxx-xxxxx; accept them typed in any case, with or without separators.
  select case when char_length(c) = 10 then substr(c, 1, 5) || '-' || substr(c, 6, 5) else c end
  from (select regexp_replace(lower(coalesce(p_code, '')), '[^0-9a-f]', '', 'g') as c) x
$$;
comment on function lms_private.normalise_recovery_code(text) is 'The canonical xxxxx-xxxxx form of a recovery code as typed.';

create or replace function lms_private.consume_mfa_code(p_user_id uuid, p_code text) returns boolean
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_mfa lms_private.user_mfa;
  v_step bigint;
  v_code text := btrim(coalesce(p_code, ''));
begin
  select * into v_mfa from lms_private.user_mfa where user_id = p_user_id and secret is not null for update;
  if not found then
    return false;
  end if;
  v_step := lms_private.matching_totp_step(v_mfa.secret, v_code, v_mfa.last_used_step);
  if v_step is not null then
    update lms_private.user_mfa set last_used_step = v_step where user_id = p_user_id;
    return true;
  end if;
  update lms_private.mfa_recovery_codes set used_at = now()
  where id = (select r.id from lms_private.mfa_recovery_codes r
              where r.user_id = p_user_id and r.used_at is null and r.code_hash = digest(lms_private.normalise_recovery_code(v_code), 'sha256')
              limit 1);
  if found then
    perform lms_private.log_security_event('mfa_recovery_code_used', p_user_id);
  end if;
  return found;
end
$$;
comment on function lms_private.consume_mfa_code(uuid, text) is 'Accepts a current TOTP code once (no replay within its window), or an unused recovery code; returns whether it was accepted.';

--------------------------------------------------------------------------------
-- Lockout.

-- Keyed by normalised email and client IP, whether or not an account has the email, so that a
-- lock says nothing about which emails exist, and an attacker's failures from one address do not
-- lock the owner out from another. A ceiling across all addresses bounds guessing from many
-- addresses; it spares the addresses the account signed in from lately, so the owner keeps a way in.

create or replace function lms_private.login_ip_locked(p_email text) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select exists (
    select from lms_private.user_lockouts l
    where l.email = p_email and l.client_ip is not distinct from lms_private.client_ip() and l.locked_until > now()
  )
$$;
comment on function lms_private.login_ip_locked(text) is 'Whether sign-ins for this normalised email are locked from the client''s IP (5 failures from it within 15 minutes lock it for 15 minutes).';

create or replace function lms_private.login_locked(p_email text, p_user_id uuid) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.login_ip_locked(p_email)
      or ((select count(*) from (
             select from lms_private.security_events e
             where e.event_type = 'login_failed' and e.details->>'email' = p_email and e.occurred_at > now() - interval '1 hour'
             limit 100) f) >= 100
          and not exists (
             select from lms_private.security_events s
             where p_user_id is not null and s.user_id = p_user_id and s.event_type = 'login_succeeded'
               and s.client_ip is not distinct from lms_private.client_ip() and s.occurred_at > now() - interval '30 days'))
$$;
comment on function lms_private.login_locked(text, uuid) is 'Whether a login for this normalised email (and its account, if any) is refused as locked: locked from the client''s IP, or 100 failures from any IPs within the hour and the client''s IP has not signed in to the account within 30 days.';

create or replace function lms_private.record_login_failure(p_user_id uuid, p_email text, p_reason text) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_email text := coalesce(p_email, (select u.email from lms_public.users u where u.id = p_user_id));
  v_ip inet := lms_private.client_ip();
  v_failures integer;
begin
  perform lms_private.log_security_event('login_failed', p_user_id, jsonb_build_object('email', p_email, 'reason', p_reason));
  -- Failures of a signed-in user's checks carry the user but no email.
  select count(*) into v_failures
  from lms_private.security_events e
  where e.event_type = 'login_failed'
    and (e.user_id = p_user_id or e.details->>'email' = v_email)
    and e.client_ip is not distinct from v_ip
    and e.occurred_at > now() - interval '15 minutes'
    and e.occurred_at > coalesce((
      select max(s.occurred_at) from lms_private.security_events s
      where s.user_id = p_user_id and s.event_type = 'login_succeeded' and s.client_ip is not distinct from v_ip), '-infinity')
    and e.occurred_at > coalesce((
      select l.locked_until from lms_private.user_lockouts l where l.email = v_email and l.client_ip is not distinct from v_ip), '-infinity');
  if v_failures >= 5 then
    insert into lms_private.user_lockouts as l (email, client_ip, user_id, locked_until) values (v_email, v_ip, p_user_id, now() + interval '15 minutes')
    on conflict (email, client_ip) do update set locked_until = excluded.locked_until, user_id = coalesce(excluded.user_id, l.user_id);
    perform lms_private.log_security_event('account_locked', p_user_id, jsonb_build_object('email', v_email, 'failures', v_failures, 'minutes', 15));
  end if;
end
$$;
comment on function lms_private.record_login_failure(uuid, text, text) is 'Records a failed login (unknown email, wrong password or MFA code, or a signed-in user''s wrong current password or code); the fifth within 15 minutes for one email from one IP, since the last sign-in from that IP, locks that email from that IP for 15 minutes.';

--------------------------------------------------------------------------------
-- Registration and login.

create or replace function lms_public.register(email text, password text, full_name text) returns lms_public.users
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user lms_public.users;
  v_email text := lms_private.normalise_email(email);
  v_name text := btrim(coalesce(full_name, ''));
  v_hash text;
begin
  if v_name = '' or char_length(v_name) > 255 then
    raise exception using errcode = 'INVAL', message = 'the full name must be 1 to 255 characters';
  end if;
  v_hash := lms_private.hash_password(password);
  insert into lms_public.users (email, full_name) values (v_email, v_name)
  on conflict on constraint users_email_key do nothing
  returning * into v_user;
  if v_user.id is null then
    raise exception using errcode = 'EMTKN', message = 'an account with this email address already exists';
  end if;
  insert into lms_private.user_passwords (user_id, password_hash) values (v_user.id, v_hash);
  perform lms_private.log_security_event('registered', v_user.id);
  perform lms_private.add_job('users__send_verification_email', jsonb_build_object('userId', v_user.id), job_key => 'users__send_verification_email:' || v_user.id);
  return v_user;
end
$$;
comment on function lms_public.register(text, text, text) is E'@resultFieldName user\nCreates a student account and emails a link to verify the address. The email is trimmed and lower-cased; the password needs 10 characters to 72 bytes (WEAKP); a taken email is EMTKN.';

create or replace function lms_private.login(
  p_email text,
  p_password text,
  p_mfa_code text,
  p_ttl interval,
  p_session_max interval
) returns lms_private.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_email text := lower(btrim(coalesce(p_email, '')));
  v_user lms_public.users;
  v_hash text;
  v_grant lms_private.session_grant;
begin
  -- One login at a time per email, known or not: overlapping attempts must all count toward the lockout.
  perform pg_advisory_xact_lock(hashtext('lms_private.login:' || v_email));
  select u.* into v_user from lms_public.users u where u.email = v_email for no key update;
  -- Before the account matters: a locked unknown email answers exactly as a locked account.
  if lms_private.login_locked(v_email, v_user.id) then
    perform lms_private.log_security_event('login_refused_locked', v_user.id, jsonb_build_object('email', v_email));
    return lms_private.session_status('locked');
  end if;
  if v_user.id is null then
    -- The same bcrypt work as for a real account, so that timing tells nothing.
    perform crypt(coalesce(p_password, ''), gen_salt('bf', lms_private.bcrypt_cost()));
    perform lms_private.record_login_failure(null, v_email, 'unknown_email');
    return lms_private.session_status('invalid_credentials');
  end if;
  select p.password_hash into v_hash from lms_private.user_passwords p where p.user_id = v_user.id;
  if v_hash is null or v_hash <> crypt(coalesce(p_password, ''), v_hash) then
    perform lms_private.record_login_failure(v_user.id, v_email, 'wrong_password');
    return lms_private.session_status('invalid_credentials');
  end if;
  if not v_user.is_active then
    perform lms_private.log_security_event('login_refused_disabled', v_user.id);
    return lms_private.session_status('account_disabled');
  end if;
  if v_user.mfa_enabled then
    if nullif(btrim(coalesce(p_mfa_code, '')), '') is null then
      return lms_private.session_status('mfa_required');
    end if;
    if not lms_private.consume_mfa_code(v_user.id, p_mfa_code) then
      perform lms_private.record_login_failure(v_user.id, v_email, 'wrong_mfa_code');
      return lms_private.session_status('invalid_mfa_code');
    end if;
  end if;
  update lms_public.users set last_login_at = now() where id = v_user.id;
  -- Only this address's lock: the owner signing in must not lift an attacker's lock elsewhere.
  delete from lms_private.user_lockouts l where l.email = v_email and l.client_ip is not distinct from lms_private.client_ip();
  v_grant := lms_private.issue_refresh_token(v_user.id, p_ttl, p_session_max);
  perform lms_private.log_security_event('login_succeeded', v_user.id, jsonb_build_object('session_id', v_grant.session_id));
  return v_grant;
end
$$;
comment on function lms_private.login(text, text, text, interval, interval) is 'Checks a login and, when it succeeds, starts a session. Returns a status rather than raising, so that failures and lockouts commit: ok, invalid_credentials, locked, account_disabled, mfa_required or invalid_mfa_code.';

create or replace function lms_private.refresh_session(p_token text, p_reuse_interval interval, p_ttl interval) returns lms_private.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_token lms_private.refresh_tokens;
  v_grant lms_private.session_grant;
begin
  v_token := lms_private.find_refresh_token(p_token);
  if v_token.id is null then
    return lms_private.session_status('invalid_token');
  end if;
  -- Two refreshes with one token queue here; the second sees what the first did.
  select * into v_token from lms_private.refresh_tokens where id = v_token.id for update;
  if v_token.revoked_at is not null then
    if v_token.revoked_reason <> 'rotated' then
      return lms_private.session_status('invalid_token');
    end if;
    -- clock_timestamp: a refresh that waited on the lock started before the rotation it lost to.
    if clock_timestamp() - v_token.revoked_at <= p_reuse_interval then
      perform lms_private.log_security_event('refresh_token_already_rotated', v_token.user_id, jsonb_build_object('session_id', v_token.session_id));
      return lms_private.session_status('token_rotated');
    end if;
    perform lms_private.revoke_refresh_tokens(v_token.user_id, 'reuse');
    perform lms_private.log_security_event('refresh_token_reused', v_token.user_id, jsonb_build_object('session_id', v_token.session_id));
    return lms_private.session_status('token_reused');
  end if;
  if v_token.expires_at <= now() then
    return lms_private.session_status('token_expired');
  end if;
  if lms_private.session_role(v_token.user_id) is null then
    return lms_private.session_status('account_disabled');
  end if;
  v_grant := lms_private.issue_refresh_token(v_token.user_id, p_ttl, null, v_token.session_id, v_token.session_expires_at);
  update lms_private.refresh_tokens
  set revoked_at = clock_timestamp(), revoked_reason = 'rotated', replaced_by_jti = split_part(v_grant.refresh_token, '.', 1)
  where id = v_token.id;
  return v_grant;
end
$$;
comment on function lms_private.refresh_session(text, interval, interval) is 'Rotates a refresh token: revokes it and issues the next one of its session. A token rotated within p_reuse_interval answers token_rotated and changes nothing; an older rotated token is reuse, which revokes every live token of the user. Other statuses: invalid_token, token_expired, account_disabled.';

create or replace function lms_public.logout(refresh_token text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_token lms_private.refresh_tokens := lms_private.find_refresh_token(refresh_token);
begin
  if v_token.id is not null and v_token.revoked_at is null then
    update lms_private.refresh_tokens set revoked_at = now(), revoked_reason = 'logout' where id = v_token.id;
    perform lms_private.log_security_event('logout', v_token.user_id, jsonb_build_object('session_id', v_token.session_id));
  end if;
  return true;
end
$$;
comment on function lms_public.logout(text) is E'@resultFieldName success\nEnds the session of a refresh token. Always succeeds, so it reveals nothing about the token.';

create or replace function lms_public.logout_everywhere() returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
begin
  perform lms_private.log_security_event('logout_everywhere', v_user_id,
    jsonb_build_object('revoked', lms_private.revoke_refresh_tokens(v_user_id, 'logout_all')));
  return true;
end
$$;
comment on function lms_public.logout_everywhere() is E'@resultFieldName success\nEnds every session of the signed-in user.';

--------------------------------------------------------------------------------
-- Email verification and password reset.

create or replace function lms_private.issue_email_token(p_user_id uuid, p_purpose text)
  returns table (token text, email text, full_name text)
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user lms_public.users;
  v_token text := translate(encode(gen_random_bytes(32), 'base64'), '+/=', '-_');
begin
  select * into v_user from lms_public.users u where u.id = p_user_id and u.is_active;
  if v_user.id is null or (p_purpose = 'verify_email' and v_user.email_verified_at is not null) then
    return;
  end if;
  update lms_private.email_tokens t set used_at = now()
  where t.user_id = p_user_id and t.purpose = p_purpose and t.used_at is null;
  insert into lms_private.email_tokens (user_id, purpose, token_hash, expires_at)
  values (p_user_id, p_purpose, digest(v_token, 'sha256'),
          now() + case p_purpose when 'verify_email' then interval '24 hours' else interval '1 hour' end);
  return query select v_token, v_user.email::text, v_user.full_name::text;
end
$$;
comment on function lms_private.issue_email_token(uuid, text) is 'Mints a single-use email token (verify_email: 24 hours; reset_password: 1 hour), superseding older ones, and returns it once to the worker task that emails it. Nothing when the user no longer needs one.';

create or replace function lms_private.use_email_token(p_token text, p_purpose text) returns uuid
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row lms_private.email_tokens;
begin
  select * into v_row from lms_private.email_tokens t
  where t.token_hash = digest(coalesce(p_token, ''), 'sha256') and t.purpose = p_purpose
  for update;
  if v_row.id is null or v_row.used_at is not null or v_row.expires_at <= now() then
    raise exception using errcode = 'TKEXP', message = 'the link is invalid or has expired';
  end if;
  update lms_private.email_tokens set used_at = now() where id = v_row.id;
  return v_row.user_id;
end
$$;
comment on function lms_private.use_email_token(text, text) is 'Spends a single-use email token and returns its user; raises TKEXP when it is unknown, used or expired.';

create or replace function lms_public.verify_email(token text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.use_email_token(token, 'verify_email');
begin
  update lms_public.users set email_verified_at = coalesce(email_verified_at, now()) where id = v_user_id;
  perform lms_private.log_security_event('email_verified', v_user_id);
  return true;
end
$$;
comment on function lms_public.verify_email(text) is E'@resultFieldName success\nProves the user owns their email address, with the token from the verification email (TKEXP when invalid, used or expired).';

create or replace function lms_public.resend_verification_email() returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
begin
  if exists (select from lms_public.users u where u.id = v_user_id and u.email_verified_at is null) then
    perform lms_private.add_job('users__send_verification_email', jsonb_build_object('userId', v_user_id), job_key => 'users__send_verification_email:' || v_user_id);
  end if;
  return true;
end
$$;
comment on function lms_public.resend_verification_email() is E'@resultFieldName success\nEmails the signed-in user a new verification link, unless their address is already verified.';

create or replace function lms_public.request_password_reset(email text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid;
begin
  select u.id into v_user_id from lms_public.users u where u.email = lower(btrim(coalesce(request_password_reset.email, ''))) and u.is_active;
  if v_user_id is not null then
    perform lms_private.add_job('users__send_password_reset_email', jsonb_build_object('userId', v_user_id), job_key => 'users__send_password_reset_email:' || v_user_id);
    perform lms_private.log_security_event('password_reset_requested', v_user_id);
  end if;
  return true;
end
$$;
comment on function lms_public.request_password_reset(text) is E'@resultFieldName success\nEmails a password-reset link if an active account has this address. Answers the same either way.';

create or replace function lms_public.reset_password(token text, new_password text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hash text := lms_private.hash_password(new_password);
  v_user_id uuid := lms_private.use_email_token(token, 'reset_password');
begin
  update lms_private.user_passwords set password_hash = v_hash where user_id = v_user_id;
  delete from lms_private.user_lockouts l
  where l.user_id = v_user_id or l.email = (select u.email from lms_public.users u where u.id = v_user_id);
  perform lms_private.log_security_event('password_reset', v_user_id,
    jsonb_build_object('sessions_revoked', lms_private.revoke_refresh_tokens(v_user_id, 'password_reset')));
  return true;
end
$$;
comment on function lms_public.reset_password(text, text) is E'@resultFieldName success\nSets a new password with the token from the reset email, and ends every session (TKEXP, WEAKP).';

create or replace function lms_private.change_password(p_current_password text, p_new_password text) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_hash text := lms_private.hash_password(p_new_password);
  v_email text;
begin
  select u.email into v_email from lms_public.users u where u.id = v_user_id for no key update;
  if lms_private.login_ip_locked(v_email) then
    return 'locked';
  end if;
  if not lms_private.password_matches(v_user_id, p_current_password) then
    perform lms_private.record_login_failure(v_user_id, null, 'wrong_current_password');
    return 'invalid_credentials';
  end if;
  update lms_private.user_passwords set password_hash = v_hash where user_id = v_user_id;
  perform lms_private.log_security_event('password_changed', v_user_id, jsonb_build_object(
    'sessions_revoked', lms_private.revoke_refresh_tokens(v_user_id, 'password_change', lms_private.current_session_id())));
  return 'ok';
end
$$;
comment on function lms_private.change_password(text, text) is 'Changes the signed-in user''s password and ends their other sessions. A wrong current password is recorded and counts toward the lockout of the account from the client''s IP, so it returns a status (ok, invalid_credentials, locked) for the API to turn into an error; a weak new password raises WEAKP.';

create or replace function lms_public.update_profile(full_name text, profile_metadata jsonb) returns lms_public.users
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_name text := btrim(coalesce(full_name, ''));
  v_user lms_public.users;
begin
  if v_name = '' or char_length(v_name) > 255 then
    raise exception using errcode = 'INVAL', message = 'the full name must be 1 to 255 characters';
  end if;
  update lms_public.users u set full_name = v_name, profile_metadata = update_profile.profile_metadata
  where u.id = v_user_id
  returning * into v_user;
  return v_user;
end
$$;
comment on function lms_public.update_profile(text, jsonb) is E'@resultFieldName user\nSets the signed-in user''s name and profile data.';

--------------------------------------------------------------------------------
-- MFA.

create or replace function lms_private.begin_mfa_enrollment(p_secret text) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_email text;
begin
  select u.email into v_email from lms_public.users u where u.id = v_user_id and not u.mfa_enabled;
  if v_email is null then
    raise exception using errcode = 'MFAON', message = 'MFA is already on; disable it first';
  end if;
  perform lms_private.base32_decode(p_secret);
  insert into lms_private.user_mfa (user_id, pending_secret) values (v_user_id, p_secret)
  on conflict (user_id) do update set pending_secret = excluded.pending_secret;
  perform lms_private.log_security_event('mfa_enrollment_started', v_user_id);
  return v_email;
end
$$;
comment on function lms_private.begin_mfa_enrollment(text) is 'Stores a new pending TOTP secret for the signed-in user (MFAON while MFA is on); returns their email, for the authenticator''s label.';

create or replace function lms_private.confirm_mfa(p_code text) returns text[]
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_mfa lms_private.user_mfa;
  v_step bigint;
  v_codes text[];
begin
  select * into v_mfa from lms_private.user_mfa m where m.user_id = v_user_id for update;
  if v_mfa.pending_secret is null then
    raise exception using errcode = 'INVAL', message = 'there is no MFA set-up to confirm; call enableMfa first';
  end if;
  v_step := lms_private.matching_totp_step(v_mfa.pending_secret, btrim(coalesce(p_code, '')), 0);
  if v_step is null then
    raise exception using errcode = 'MFABD', message = 'the code is not valid';
  end if;
  update lms_private.user_mfa
  set secret = pending_secret, pending_secret = null, last_used_step = v_step, confirmed_at = now()
  where user_id = v_user_id;
  update lms_public.users set mfa_enabled = true where id = v_user_id;
  delete from lms_private.mfa_recovery_codes where user_id = v_user_id;
  select array_agg(substr(c, 1, 5) || '-' || substr(c, 6, 5)) into v_codes
  from (select encode(gen_random_bytes(5), 'hex') as c from generate_series(1, 10)) codes;
  insert into lms_private.mfa_recovery_codes (user_id, code_hash)
  select v_user_id, digest(code, 'sha256') from unnest(v_codes) as code;
  perform lms_private.log_security_event('mfa_enabled', v_user_id);
  return v_codes;
end
$$;
comment on function lms_private.confirm_mfa(text) is 'Turns MFA on once a code from the pending secret checks out (MFABD otherwise), and returns ten one-time recovery codes, shown once.';

create or replace function lms_private.disable_mfa(p_code text) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_email text;
begin
  select u.email into v_email from lms_public.users u where u.id = v_user_id for no key update;
  if not exists (select from lms_public.users u where u.id = v_user_id and u.mfa_enabled) then
    return 'mfa_off';
  end if;
  if lms_private.login_ip_locked(v_email) then
    return 'locked';
  end if;
  if not lms_private.consume_mfa_code(v_user_id, p_code) then
    perform lms_private.record_login_failure(v_user_id, null, 'wrong_mfa_code');
    return 'invalid_mfa_code';
  end if;
  delete from lms_private.user_mfa where user_id = v_user_id;
  delete from lms_private.mfa_recovery_codes where user_id = v_user_id;
  update lms_public.users set mfa_enabled = false where id = v_user_id;
  perform lms_private.log_security_event('mfa_disabled', v_user_id);
  return 'ok';
end
$$;
comment on function lms_private.disable_mfa(text) is 'Turns MFA off with a current code or a recovery code. A wrong code is recorded and counts toward the lockout of the account from the client''s IP, so it returns a status (ok, invalid_mfa_code, mfa_off, locked) for the API to turn into an error.';

--------------------------------------------------------------------------------
-- Admin control.

create or replace function lms_public.set_user_role(user_id uuid, role text) returns lms_public.users
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_admin_id uuid := lms_private.require_admin();
  v_user lms_public.users;
  v_old text;
begin
  if user_id = v_admin_id then
    raise exception using errcode = 'FRBDN', message = 'admins cannot change their own role';
  end if;
  if role is null or role not in ('student', 'instructor', 'admin') then
    raise exception using errcode = 'INVAL', message = 'the role must be student, instructor or admin';
  end if;
  select u.role into v_old from lms_public.users u where u.id = set_user_role.user_id for update;
  if v_old is null then
    raise exception using errcode = 'NTFND', message = 'no such user';
  end if;
  update lms_public.users u set role = set_user_role.role where u.id = set_user_role.user_id returning * into v_user;
  perform lms_private.log_security_event('role_changed', v_user.id, jsonb_build_object('from', v_old, 'to', v_user.role), v_admin_id);
  return v_user;
end
$$;
comment on function lms_public.set_user_role(uuid, text) is E'@resultFieldName user\nAdmins only: makes a user a student, instructor or admin; applies from the user''s next request.';

create or replace function lms_public.set_user_active(user_id uuid, active boolean) returns lms_public.users
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_admin_id uuid := lms_private.require_admin();
  v_user lms_public.users;
begin
  if user_id = v_admin_id then
    raise exception using errcode = 'FRBDN', message = 'admins cannot deactivate themselves';
  end if;
  update lms_public.users u set is_active = coalesce(active, u.is_active) where u.id = set_user_active.user_id returning * into v_user;
  if v_user.id is null then
    raise exception using errcode = 'NTFND', message = 'no such user';
  end if;
  if v_user.is_active then
    perform lms_private.log_security_event('user_reactivated', v_user.id, '{}', v_admin_id);
  else
    perform lms_private.log_security_event('user_deactivated', v_user.id,
      jsonb_build_object('sessions_revoked', lms_private.revoke_refresh_tokens(v_user.id, 'deactivated')), v_admin_id);
  end if;
  return v_user;
end
$$;
comment on function lms_public.set_user_active(uuid, boolean) is E'@resultFieldName user\nAdmins only: deactivates a user (ending their sessions, and refusing their access tokens from the next request) or reactivates them.';

create or replace function lms_public.reset_user_mfa(user_id uuid) returns lms_public.users
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_admin_id uuid := lms_private.require_admin();
  v_user lms_public.users;
begin
  update lms_public.users u set mfa_enabled = false where u.id = reset_user_mfa.user_id returning * into v_user;
  if v_user.id is null then
    raise exception using errcode = 'NTFND', message = 'no such user';
  end if;
  delete from lms_private.user_mfa m where m.user_id = v_user.id;
  delete from lms_private.mfa_recovery_codes r where r.user_id = v_user.id;
  perform lms_private.log_security_event('mfa_reset_by_admin', v_user.id, '{}', v_admin_id);
  return v_user;
end
$$;
comment on function lms_public.reset_user_mfa(uuid) is E'@resultFieldName user\nAdmins only: turns off a user''s MFA, for a user who lost their authenticator and recovery codes.';

create or replace function lms_private.create_admin(p_email text, p_password text, p_full_name text) returns uuid
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_email text := lms_private.normalise_email(p_email);
  v_hash text := lms_private.hash_password(p_password);
  v_user_id uuid;
begin
  insert into lms_public.users (email, full_name, role, email_verified_at)
  values (v_email, coalesce(nullif(btrim(p_full_name), ''), 'Administrator'), 'admin', now())
  on conflict on constraint users_email_key do update set role = 'admin', is_active = true
  returning id into v_user_id;
  insert into lms_private.user_passwords (user_id, password_hash) values (v_user_id, v_hash)
  on conflict (user_id) do update set password_hash = excluded.password_hash;
  perform lms_private.log_security_event('admin_created', v_user_id);
  return v_user_id;
end
$$;
comment on function lms_private.create_admin(text, text, text) is 'Creates an admin, or makes an existing user an admin with this password; run by `npm run create-admin` as the owner.';

--------------------------------------------------------------------------------
-- Rate limits and clean-up.

create or replace function lms_private.consume_rate_limit(p_actions text[], p_client_key text) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_limit lms_private.rate_limits;
  v_hits integer;
begin
  -- One hit per occurrence: a request that aliases login three times makes three attempts.
  for v_limit in select r.* from unnest(p_actions) as a(action) join lms_private.rate_limits r on r.action = a.action loop
    insert into lms_private.rate_limit_hits as h (action, client_key, window_start, hits)
    values (v_limit.action, p_client_key, date_bin(v_limit.per, now(), timestamptz '2000-01-01'), 1)
    on conflict (action, client_key, window_start) do update set hits = h.hits + 1
    returning h.hits into v_hits;
    if v_hits > v_limit.max_hits then
      return v_limit.action;
    end if;
  end loop;
  return null;
end
$$;
comment on function lms_private.consume_rate_limit(text[], text) is 'Counts one request per limited action for a client IP; returns the first action over its limit, or null. Called by the API before the operation runs, in its own transaction, so every attempt counts.';

create or replace function lms_private.rate_limit_window(p_action text, out max_hits integer, out retry_after_seconds integer)
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select r.max_hits,
         greatest(1, ceil(extract(epoch from date_bin(r.per, now(), timestamptz '2000-01-01') + r.per - now())))::integer
  from lms_private.rate_limits r where r.action = p_action
$$;
comment on function lms_private.rate_limit_window(text) is 'An action''s limit per window, and the seconds until its current window ends: the API''s Retry-After and RateLimit headers on HTTP 429.';

create or replace function lms_private.purge_stale_auth_state() returns jsonb
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_tokens integer;
  v_email_tokens integer;
  v_hits integer;
  v_lockouts integer;
begin
  delete from lms_private.refresh_tokens where expires_at < now();
  get diagnostics v_tokens = row_count;
  delete from lms_private.email_tokens where expires_at < now() - interval '1 day';
  get diagnostics v_email_tokens = row_count;
  delete from lms_private.rate_limit_hits h using lms_private.rate_limits r
  where r.action = h.action and h.window_start + r.per < now();
  get diagnostics v_hits = row_count;
  delete from lms_private.user_lockouts where locked_until < now();
  get diagnostics v_lockouts = row_count;
  return jsonb_build_object('refresh_tokens', v_tokens, 'email_tokens', v_email_tokens, 'rate_limit_hits', v_hits, 'lockouts', v_lockouts);
end
$$;
comment on function lms_private.purge_stale_auth_state() is 'Deletes expired refresh tokens, long-expired email tokens, past rate-limit windows and ended lockouts; run hourly by the auth_state__purge job.';

create or replace function lms_public.current_user_profile() returns lms_public.users
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select u.* from lms_public.users u where u.id = lms_private.current_user_id()
$$;
comment on function lms_public.current_user_profile() is E'@name current_user\nThe signed-in user, or null when anonymous.';

create or replace function lms_private.tg_users__require_password() returns trigger
  -- Definer: it fires at commit as whoever inserted, and visitors cannot read password rows.
  language plpgsql security definer
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

--------------------------------------------------------------------------------
-- Execute grants. Everything not named here runs only inside definer functions, as the owner.

select lms_private.grant_domain_functions(
  everyone => array[
    'client_ip', 'current_session_id', 'bcrypt_cost', 'require_user', 'require_admin',
    'register', 'login', 'refresh_session', 'logout', 'verify_email', 'request_password_reset', 'reset_password',
    'current_user_profile',
    -- Anonymous callers too: each starts with require_user(), which answers them NOAUT (migration 000007).
    'logout_everywhere', 'resend_verification_email', 'change_password', 'update_profile',
    'begin_mfa_enrollment', 'confirm_mfa', 'disable_mfa'],
  admins => array['set_user_role', 'set_user_active', 'reset_user_mfa'],
  -- The API's own connection, before it switches role: the per-request role check and the rate limiter.
  authenticator => array['session_role', 'consume_rate_limit', 'rate_limit_window']
);
--! EndIncluded functions/identity.sql
--! Included functions/catalog.sql
-- Catalog: the functions of courses, lessons, slugs, the public syllabus, publishing, reordering
-- and ratings, and their execute grants. Re-runnable: included by every migration that changes it.
--
-- Which lessons count toward completion (lms_private.lesson_counts):
--   a lesson counts when it is not archived, has no live children (a parent is a section),
--   and is not a quiz lesson whose quiz is a practice quiz.
-- Publishing needs at least one counting lesson, and every counting quiz lesson needs a
-- published graded quiz.

select lms_private.begin_domain_functions();

--------------------------------------------------------------------------------
-- Who may change what (the policies' helpers are in access.sql).

create or replace function lms_private.can_manage_course(p_course_id uuid) returns boolean
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.is_admin()
      or exists (select from lms_public.courses c where c.id = p_course_id and c.instructor_id = lms_private.current_user_id())
$$;
comment on function lms_private.can_manage_course(uuid) is 'Whether the signed-in user is the course''s instructor or an admin.';

create or replace function lms_private.require_course_manager(p_course_id uuid) returns void
  language plpgsql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform lms_private.require_user();
  if not exists (select from lms_public.courses c where c.id = p_course_id) then
    raise exception using errcode = 'NTFND', message = 'no such course';
  end if;
  if not lms_private.can_manage_course(p_course_id) then
    raise exception using errcode = 'FRBDN', message = 'only the course''s instructor or an admin may do this';
  end if;
end
$$;
comment on function lms_private.require_course_manager(uuid) is 'Raises NOAUT, NTFND or FRBDN unless the signed-in user manages the course.';

--------------------------------------------------------------------------------
-- Slugs.

create or replace function lms_private.slugify(p_text text) returns text
  language sql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(nullif(left(btrim(regexp_replace(lower(coalesce(p_text, '')), '[^a-z0-9]+', '-', 'g'), '-'), 200), ''), 'untitled')
$$;
comment on function lms_private.slugify(text) is 'Lowercase-kebab form of a title: runs of anything but a-z and 0-9 become one hyphen.';

create or replace function lms_private.random_slug_suffix() returns text
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  -- 32 symbols, so each byte modulo 32 is uniform: 30 random bits, lowercase, no i/l/o/u to misread.
  select string_agg(substr('0123456789abcdefghjkmnpqrstvwxyz', get_byte(r.b, i) % 32 + 1, 1), '' order by i)
  from (select gen_random_bytes(6) as b) r, generate_series(0, 5) as i
$$;
comment on function lms_private.random_slug_suffix() is 'Six random lowercase letters and digits, the suffix of a generated slug whose base is taken.';

create or replace function lms_private.tg_courses__defaults() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_base text;
  v_candidate text;
begin
  if tg_op = 'INSERT' and new.instructor_id is null then
    new.instructor_id := lms_private.current_user_id();
  end if;
  if tg_op = 'UPDATE' and new.slug is not distinct from old.slug then
    return new;
  end if;
  if nullif(btrim(coalesce(new.slug, '')), '') is not null then
    if new.slug !~ '^[a-z0-9]+(-[a-z0-9]+)*$' then
      raise exception using errcode = 'INVAL', message = 'the slug must be lowercase-kebab: a-z, 0-9 and single hyphens';
    end if;
    return new;
  end if;
  v_base := lms_private.slugify(new.title);
  -- Serialise slug generation: a base and another title's suffixed form can meet.
  perform pg_advisory_xact_lock(hashtext('lms_public.courses.slug'));
  v_candidate := v_base;
  -- A random suffix, not a counter: "-2" would tell the caller that a course it may not see took
  -- the base, and "-3" that two did; a random one tells nothing about who holds what.
  while exists (select from lms_public.courses c where c.slug = v_candidate and c.id <> new.id) loop
    v_candidate := rtrim(v_base, '-') || '-' || lms_private.random_slug_suffix();
  end loop;
  new.slug := v_candidate;
  return new;
end
$$;
comment on function lms_private.tg_courses__defaults() is 'Trigger: a new course''s instructor defaults to the signed-in user; generates a unique slug from the title when none is given (the title''s own slug if no course holds it, else with a random six-character suffix), and validates a given one as lowercase-kebab (INVAL); a given slug that is taken is a unique violation (23505) whoever holds it.';

create or replace function lms_private.tg_lessons__defaults() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if nullif(btrim(coalesce(new.slug, '')), '') is null then
    new.slug := lms_private.slugify(new.title);
  elsif new.slug !~ '^[a-z0-9]+(-[a-z0-9]+)*$' then
    raise exception using errcode = 'INVAL', message = 'the slug must be lowercase-kebab: a-z, 0-9 and single hyphens';
  end if;
  if new.order_index is null then
    perform pg_advisory_xact_lock(hashtext('lms_public.lessons.order:' || new.course_id));
    select coalesce(max(l.order_index) + 1, 0) into new.order_index from lms_public.lessons l where l.course_id = new.course_id;
  end if;
  return new;
end
$$;
comment on function lms_private.tg_lessons__defaults() is 'Trigger: a lesson''s slug defaults to its title''s, and its order_index to the end of the course.';

--------------------------------------------------------------------------------
-- Lesson structure.

create or replace function lms_private.tg_lessons__check_parent() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'UPDATE' and new.course_id <> old.course_id then
    raise exception using errcode = 'INVAL', message = 'a lesson cannot move to another course';
  end if;
  if new.parent_lesson_id is null then
    return new;
  end if;
  if not exists (select from lms_public.lessons p where p.id = new.parent_lesson_id and p.course_id = new.course_id) then
    raise exception using errcode = 'INVAL', message = 'the parent lesson must belong to the same course';
  end if;
  if exists (
    with recursive ancestors(id) as (
      select new.parent_lesson_id
      union
      select p.parent_lesson_id from lms_public.lessons p join ancestors a on p.id = a.id where p.parent_lesson_id is not null
    )
    select from ancestors where id = new.id
  ) then
    raise exception using errcode = 'INVAL', message = 'a lesson cannot be its own ancestor';
  end if;
  return new;
end
$$;
comment on function lms_private.tg_lessons__check_parent() is 'Trigger: a parent lesson belongs to the same course, the parent chain has no cycle, and lessons do not change course (INVAL).';

create or replace function lms_private.lesson_counts(p_lesson lms_public.lessons) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select p_lesson.archived_at is null
     and not exists (select from lms_public.lessons c where c.parent_lesson_id = p_lesson.id and c.archived_at is null)
     and not exists (select from lms_public.quizzes q where q.lesson_id = p_lesson.id and q.quiz_type = 'practice')
$$;
comment on function lms_private.lesson_counts(lms_public.lessons) is 'Whether a lesson counts toward completion: not archived, not a section with live children, not a practice-quiz lesson.';

create or replace function lms_private.counting_lesson_ids(p_course_id uuid) returns setof uuid
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select l.id from lms_public.lessons l where l.course_id = p_course_id and lms_private.lesson_counts(l)
$$;
comment on function lms_private.counting_lesson_ids(uuid) is 'The lessons of a course that count toward completion; O(lessons of the course).';

create or replace function lms_public.lessons_counts_toward_completion(l lms_public.lessons) returns boolean
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.lesson_counts(l)
$$;
comment on function lms_public.lessons_counts_toward_completion(lms_public.lessons) is 'Whether this lesson counts toward course completion (not archived, not a section, not a practice quiz).';

--------------------------------------------------------------------------------
-- The public syllabus.

-- Replaced when its attributes change, with the functions below that use it (see common.sql).
select lms_private.define_composite_type('lms_public.syllabus_entry', $$
  id uuid,
  title varchar(255),
  slug varchar(255),
  lesson_type varchar(50),
  order_index integer,
  parent_lesson_id uuid,
  duration_minutes integer,
  is_preview boolean,
  counts_toward_completion boolean
$$);
comment on type lms_public.syllabus_entry is 'A lesson as the public sees it in a course''s syllabus: no content, no video URL.';
comment on column lms_public.syllabus_entry.id is 'The lesson''s id.';
comment on column lms_public.syllabus_entry.title is 'The lesson''s title.';
comment on column lms_public.syllabus_entry.slug is 'The lesson''s slug.';
comment on column lms_public.syllabus_entry.lesson_type is 'video, text, quiz or assignment.';
comment on column lms_public.syllabus_entry.order_index is 'Position in the course.';
comment on column lms_public.syllabus_entry.parent_lesson_id is 'The section it sits in.';
comment on column lms_public.syllabus_entry.duration_minutes is 'How long the lesson takes.';
comment on column lms_public.syllabus_entry.is_preview is 'Whether anyone may read its body.';
comment on column lms_public.syllabus_entry.counts_toward_completion is 'Whether it counts toward completion.';

create or replace function lms_public.courses_syllabus(c lms_public.courses) returns setof lms_public.syllabus_entry
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select l.id, l.title, l.slug, l.lesson_type, l.order_index, l.parent_lesson_id, l.duration_minutes, l.is_preview,
         lms_private.lesson_counts(l)
  from lms_public.courses course
  join lms_public.lessons l on l.course_id = course.id
  where course.id = c.id
    and l.archived_at is null
    and (course.is_published or lms_private.can_manage_course(course.id) or course.id = any(lms_private.my_entitled_course_ids()))
  order by l.order_index
$$;
comment on function lms_public.courses_syllabus(lms_public.courses) is E'@behavior -connection +list\n@listSuffix omit\nThe course''s syllabus, in order: titles, types, durations, preview flags and sections, for anyone who can see the course. Lesson bodies are on lessons, for those entitled to them.';

create or replace function lms_public.courses_instructor_name(c lms_public.courses) returns text
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select u.full_name::text from lms_public.courses course join lms_public.users u on u.id = course.instructor_id
  where course.id = c.id
    and (course.is_published or lms_private.can_manage_course(course.id) or course.id = any(lms_private.my_entitled_course_ids()))
$$;
comment on function lms_public.courses_instructor_name(lms_public.courses) is 'The instructor''s name, public with the course; nothing else about them is.';

--------------------------------------------------------------------------------
-- Publishing, reordering, removing.

create or replace function lms_public.publish_course(course_id uuid) returns lms_public.courses
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course lms_public.courses;
  v_lesson record;
begin
  perform lms_private.require_course_manager(course_id);
  select * into v_course from lms_public.courses c where c.id = publish_course.course_id for no key update;
  if not exists (select from lms_private.counting_lesson_ids(v_course.id)) then
    raise exception using errcode = 'INVAL', message = 'a course needs at least one lesson that counts toward completion before it is published';
  end if;
  select l.title into v_lesson
  from lms_public.lessons l
  where l.id in (select lms_private.counting_lesson_ids(v_course.id)) and l.lesson_type = 'quiz'
    and not exists (select from lms_public.quizzes q where q.lesson_id = l.id and q.quiz_type = 'graded' and q.is_published)
  limit 1;
  if found then
    raise exception using errcode = 'INVAL', message = format('the quiz lesson "%s" needs a published graded quiz', v_lesson.title);
  end if;
  update lms_public.courses c set is_published = true where c.id = v_course.id returning * into v_course;
  return v_course;
end
$$;
comment on function lms_public.publish_course(uuid) is E'@resultFieldName course\nPublishes a course (its instructor or an admin). It needs a counting lesson, and every counting quiz lesson needs a published graded quiz (INVAL).';

create or replace function lms_public.unpublish_course(course_id uuid) returns lms_public.courses
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course lms_public.courses;
begin
  perform lms_private.require_course_manager(course_id);
  update lms_public.courses c set is_published = false where c.id = unpublish_course.course_id returning * into v_course;
  return v_course;
end
$$;
comment on function lms_public.unpublish_course(uuid) is E'@resultFieldName course\nTakes a course out of the catalog. Enrolled students keep their access.';

create or replace function lms_public.reorder_lessons(course_id uuid, lesson_ids uuid[]) returns setof lms_public.lessons
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_live uuid[];
begin
  perform lms_private.require_course_manager(course_id);
  perform 1 from lms_public.courses c where c.id = reorder_lessons.course_id for no key update;
  select coalesce(array_agg(l.id order by l.id), '{}') into v_live
  from lms_public.lessons l where l.course_id = reorder_lessons.course_id and l.archived_at is null;
  if lesson_ids is null or cardinality(lesson_ids) <> cardinality(v_live)
     or (select array_agg(x order by x) from (select distinct unnest(lesson_ids) as x) ids) is distinct from v_live then
    raise exception using errcode = 'INVAL', message = 'give every lesson of the course that is not archived, each once, in the new order';
  end if;
  -- The unique key is deferrable: a permutation passes through duplicate indexes mid-statement.
  set constraints lms_public.lessons_course_id_order_index_key deferred;
  update lms_public.lessons l set order_index = o.position - 1
  from unnest(lesson_ids) with ordinality as o(id, position)
  where l.id = o.id and l.order_index <> o.position - 1;
  -- Archived lessons keep their relative order, after the live ones.
  update lms_public.lessons l set order_index = cardinality(lesson_ids) + a.rank - 1
  from (select l2.id, row_number() over (order by l2.order_index) as rank
        from lms_public.lessons l2 where l2.course_id = reorder_lessons.course_id and l2.archived_at is not null) a
  where l.id = a.id;
  set constraints lms_public.lessons_course_id_order_index_key immediate;
  return query select * from lms_public.lessons l where l.course_id = reorder_lessons.course_id order by l.order_index;
end
$$;
comment on function lms_public.reorder_lessons(uuid, uuid[]) is E'@resultFieldName lessons\nPuts a course''s lessons in the given order, atomically: the list must hold every lesson that is not archived, once (INVAL).';

create or replace function lms_public.remove_lesson(lesson_id uuid) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lesson lms_public.lessons;
begin
  select * into v_lesson from lms_public.lessons l where l.id = remove_lesson.lesson_id for update;
  if v_lesson.id is null then
    raise exception using errcode = 'NTFND', message = 'no such lesson';
  end if;
  perform lms_private.require_course_manager(v_lesson.course_id);
  if exists (select from lms_public.lessons c where c.parent_lesson_id = v_lesson.id and c.archived_at is null) then
    raise exception using errcode = 'INVAL', message = 'the section still has lessons; remove or move them first';
  end if;
  delete from lms_public.lessons l where l.id = v_lesson.id;
  return case when exists (select from lms_public.lessons l where l.id = v_lesson.id) then 'archived' else 'deleted' end;
end
$$;
comment on function lms_public.remove_lesson(uuid) is E'@resultFieldName outcome\nRemoves a lesson: deleted when nobody has worked on it, otherwise archived (it stops counting and leaves the syllabus, and progress and grades stay). Returns deleted or archived.';

create or replace function lms_private.tg_lessons__archive_instead_of_delete() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- Archived children still point at their section, so a section with any child is archived too.
  if exists (select from lms_public.lesson_progress p where p.lesson_id = old.id)
     or exists (select from lms_public.quiz_attempts a join lms_public.quizzes q on q.id = a.quiz_id where q.lesson_id = old.id)
     or exists (select from lms_public.lessons c where c.parent_lesson_id = old.id) then
    update lms_public.lessons set archived_at = coalesce(archived_at, now()) where id = old.id;
    return null;
  end if;
  return old;
end
$$;
comment on function lms_private.tg_lessons__archive_instead_of_delete() is 'Trigger: a lesson with progress, quiz attempts or (archived) children is archived instead of deleted, so that the cascades cannot destroy grades.';

--------------------------------------------------------------------------------
-- Reviews: a course's public rating, kept by a trigger.

create or replace function lms_private.refresh_course_rating(p_course_id uuid) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- Lock first, then read in a new statement: a concurrent review committed while we waited is counted.
  -- NO KEY UPDATE: it does not conflict with the KEY SHARE that a new lesson's foreign key takes.
  perform 1 from lms_public.courses c where c.id = p_course_id for no key update;
  update lms_public.courses c
  set average_rating = r.average, review_count = r.reviews
  from (select round(avg(e.rating), 2) as average, count(e.rating)::integer as reviews
        -- A dropped or expired student's review no longer speaks for the course.
        from lms_public.enrollments e where e.course_id = p_course_id and e.status in ('active', 'completed')) r
  where c.id = p_course_id
    and (c.average_rating is distinct from r.average or c.review_count is distinct from r.reviews);
end
$$;
comment on function lms_private.refresh_course_rating(uuid) is 'Recomputes a course''s average rating and review count from its active and completed enrollments.';

create or replace function lms_private.tg_enrollments__refresh_course_rating() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'DELETE' then
    perform lms_private.refresh_course_rating(old.course_id);
  elsif tg_op = 'INSERT' or new.rating is distinct from old.rating
        or (new.status in ('active', 'completed')) is distinct from (old.status in ('active', 'completed')) then
    perform lms_private.refresh_course_rating(new.course_id);
  end if;
  return null;
end
$$;
comment on function lms_private.tg_enrollments__refresh_course_rating() is 'Trigger: keeps courses.average_rating and review_count true when a rating changes, or an enrollment is dropped, expires or comes back.';

create or replace function lms_private.tg_enrollments__check_review() returns trigger
  language plpgsql
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if (new.rating is distinct from old.rating or new.review is distinct from old.review)
     and old.status not in ('active', 'completed') then
    raise exception using errcode = 'FRBDN', message = 'only students with an active or completed enrollment may review the course';
  end if;
  return new;
end
$$;
comment on function lms_private.tg_enrollments__check_review() is 'Trigger: ratings and reviews come from active or completed enrollments only.';

--------------------------------------------------------------------------------
-- Execute grants. Everything not named here runs only inside definer functions or triggers.

select lms_private.grant_domain_functions(
  everyone => array['can_manage_course', 'lesson_counts', 'lessons_counts_toward_completion', 'courses_syllabus', 'courses_instructor_name'],
  teachers => array['require_course_manager', 'publish_course', 'unpublish_course', 'reorder_lessons', 'remove_lesson']
);
--! EndIncluded functions/catalog.sql
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
begin
  -- Shared with other enrollments, exclusive of lesson changes: a lesson added meanwhile is counted.
  perform pg_advisory_xact_lock_shared(hashtext('lms:course-content:' || enroll.course_id));
  select * into v_course from lms_public.courses c where c.id = enroll.course_id;
  select * into v_enrollment from lms_public.enrollments e
  where e.student_id = v_user_id and e.course_id = enroll.course_id for no key update;
  if v_enrollment.id is not null and v_enrollment.status in ('active', 'completed') then
    return v_enrollment;
  end if;
  if v_course.id is null or not v_course.is_published then
    raise exception using errcode = 'NTFND', message = 'no such course in the catalog';
  end if;
  if v_course.price > 0 then
    raise exception using errcode = 'PAYRQ', message = format('this course costs %s %s: pay for it to enroll', v_course.price, v_course.currency);
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
  perform lms_private.recalculate_enrollment(v_enrollment.id);
  select * into v_enrollment from lms_public.enrollments e where e.id = v_enrollment.id;
  return v_enrollment;
end
$$;
comment on function lms_public.enroll(uuid) is E'@resultFieldName enrollment\nEnrolls the signed-in user in a published free course (PAYRQ for a paid one, NTFND for a course not in the catalog). Enrolling again returns the enrollment; after dropping it, the same enrollment becomes active again, with its progress.';

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
  if exists (select from lms_public.lessons c where c.parent_lesson_id = v_lesson.id and c.archived_at is null) then
    raise exception using errcode = 'INVAL', message = 'this lesson is a section; work on its lessons';
  end if;
  return query select v_enrollment_id, v_lesson;
end
$$;
comment on function lms_private.lock_progress(uuid) is 'Checks that the signed-in user may work on a lesson (NTFND, FRBDN, INVAL for a section) and locks it and their enrollment, in that order.';

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
--! Included functions/quizzes.sql
-- Quizzes: the functions of authoring, answer keys, attempts, grading and regrading, and their
-- execute grants. Re-runnable: included by every migration that changes it.
--
-- Answer keys (lms_private.quiz_answer_keys.correct_answer) are JSON text, checked by
-- lms_private.answer_key_is_valid:
--   multiple_choice  {"correct": ["<option id>", ...]}   one or more ids of the question's options
--   true_false       {"correct": true | false}
--   short_answer     {"accepted": ["<text>", ...]}        matched trimmed and case-insensitively
--   essay            {}                                   graded by hand
-- Options (quiz_questions.options) are [{"id": "<stable id>", "text": "..."}] and never carry
-- correctness. Students' answers (quiz_attempts.answers) map question ids to: an array of option
-- ids (multiple_choice), a boolean (true_false) or a string (short_answer, essay).
--
-- Attempts: numbered 1, 2, 3… per enrollment and quiz under the enrollment's row lock, so
-- concurrent starts neither duplicate nor skip; at most one in progress; max_attempts enforced.
-- The attempt counted for the lesson is the best percentage. A completion already earned stays
-- earned, even if a regrade turns a pass into a fail.

select lms_private.begin_domain_functions();

--------------------------------------------------------------------------------
-- Validation.

create or replace function lms_private.answer_key_is_valid(p_question_type text, p_options jsonb, p_key text) returns boolean
  language plpgsql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_key jsonb;
begin
  if p_key is null then
    return p_question_type = 'essay';
  end if;
  begin
    v_key := p_key::jsonb;
  exception when others then
    return false;
  end;
  -- A missing member makes these comparisons null; null must read as invalid.
  return coalesce(case p_question_type
    when 'multiple_choice' then
      jsonb_typeof(v_key -> 'correct') = 'array' and jsonb_array_length(v_key -> 'correct') > 0
      and not exists (
        select from jsonb_array_elements(v_key -> 'correct') c
        where jsonb_typeof(c) <> 'string'
           or not exists (select from jsonb_array_elements(coalesce(p_options, '[]')) o where o ->> 'id' = c #>> '{}'))
    when 'true_false' then jsonb_typeof(v_key -> 'correct') = 'boolean'
    when 'short_answer' then
      jsonb_typeof(v_key -> 'accepted') = 'array' and jsonb_array_length(v_key -> 'accepted') > 0
      and not exists (select from jsonb_array_elements(v_key -> 'accepted') a where jsonb_typeof(a) <> 'string' or btrim(a #>> '{}') = '')
    when 'essay' then jsonb_typeof(v_key) = 'object'
    else false
  end, false);
end
$$;
comment on function lms_private.answer_key_is_valid(text, jsonb, text) is 'Whether an answer key is valid JSON of the documented shape for its question type and options.';

create or replace function lms_private.options_are_valid(p_question_type text, p_options jsonb) returns boolean
  language sql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
  -- coalesce: a CHECK passes on null, so missing options must be false, not null.
  select coalesce(case
    when p_question_type = 'multiple_choice' then
      jsonb_typeof(p_options) = 'array' and jsonb_array_length(p_options) >= 2
      and not exists (
        select from jsonb_array_elements(p_options) o
        where jsonb_typeof(o) <> 'object' or coalesce(o ->> 'id', '') = '' or coalesce(o ->> 'text', '') = ''
           or exists (select from jsonb_object_keys(o) k where k not in ('id', 'text')))
      and (select count(distinct o ->> 'id') from jsonb_array_elements(p_options) o) = jsonb_array_length(p_options)
    else p_options is null or p_options = 'null'::jsonb
  end, false)
$$;
comment on function lms_private.options_are_valid(text, jsonb) is 'Whether options are [{id, text}] with unique ids (two or more) for a multiple-choice question, and absent otherwise; no other keys, so no correctness flags.';

--------------------------------------------------------------------------------
-- Authoring.

create or replace function lms_private.quiz_course_id(p_quiz_id uuid) returns uuid
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select l.course_id from lms_public.quizzes q join lms_public.lessons l on l.id = q.lesson_id where q.id = p_quiz_id
$$;
comment on function lms_private.quiz_course_id(uuid) is 'The course a quiz belongs to.';

create or replace function lms_private.tg_quizzes__check_lesson() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if not exists (select from lms_public.lessons l where l.id = new.lesson_id and l.lesson_type = 'quiz') then
    raise exception using errcode = 'INVAL', message = 'a quiz belongs to a lesson of type quiz';
  end if;
  if new.passing_score < 0 or new.passing_score > 100 or coalesce(new.max_attempts, 1) < 1 or coalesce(new.time_limit_minutes, 1) < 1 then
    raise exception using errcode = 'INVAL', message = 'passing score is 0 to 100; max attempts and time limit are positive when set';
  end if;
  return new;
end
$$;
comment on function lms_private.tg_quizzes__check_lesson() is 'Trigger: a quiz belongs to a quiz-type lesson, with sane settings (INVAL).';

create or replace function lms_public.save_quiz_question(
  quiz_id uuid,
  question_text text,
  question_type text,
  answer_key jsonb,
  points numeric default 1,
  order_index integer default null,
  explanation text default null,
  options jsonb default null,
  question_id uuid default null
) returns lms_public.quiz_questions
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course_id uuid := lms_private.quiz_course_id(quiz_id);
  v_question lms_public.quiz_questions;
  v_key text := case when answer_key is null or answer_key = 'null'::jsonb then null else answer_key::text end;
begin
  if v_course_id is null then
    raise exception using errcode = 'NTFND', message = 'no such quiz';
  end if;
  perform lms_private.require_course_manager(v_course_id);
  if coalesce(points, 0) <= 0 then
    raise exception using errcode = 'INVAL', message = 'a question needs points above zero';
  end if;
  if question_type is null or question_type not in ('multiple_choice', 'true_false', 'short_answer', 'essay') then
    raise exception using errcode = 'INVAL', message = 'the question type must be multiple_choice, true_false, short_answer or essay';
  end if;
  if not lms_private.options_are_valid(question_type, options) then
    raise exception using errcode = 'INVAL', message = 'multiple-choice options are [{"id", "text"}] with unique ids, two or more; other types have none';
  end if;
  if question_type = 'essay' then
    v_key := '{}';
  end if;
  if not lms_private.answer_key_is_valid(question_type, options, v_key) then
    raise exception using errcode = 'INVAL', message = case question_type
      when 'multiple_choice' then 'the answer key must name one or more of the options as correct: {"correct": ["<option id>"]}'
      when 'true_false' then 'the answer key must be {"correct": true} or {"correct": false}'
      else 'the answer key must list one or more accepted answers: {"accepted": ["..."]}' end;
  end if;
  if question_id is null then
    insert into lms_public.quiz_questions (quiz_id, question_text, question_type, points, order_index, explanation, options)
    values (save_quiz_question.quiz_id, save_quiz_question.question_text, save_quiz_question.question_type, save_quiz_question.points,
            coalesce(save_quiz_question.order_index,
                     (select coalesce(max(q.order_index) + 1, 0) from lms_public.quiz_questions q where q.quiz_id = save_quiz_question.quiz_id)),
            save_quiz_question.explanation, save_quiz_question.options)
    returning * into v_question;
  else
    update lms_public.quiz_questions q set
      question_text = save_quiz_question.question_text, question_type = save_quiz_question.question_type,
      points = save_quiz_question.points, order_index = coalesce(save_quiz_question.order_index, q.order_index),
      explanation = save_quiz_question.explanation, options = save_quiz_question.options
    where q.id = save_quiz_question.question_id and q.quiz_id = save_quiz_question.quiz_id
    returning * into v_question;
    if v_question.id is null then
      raise exception using errcode = 'NTFND', message = 'no such question in this quiz';
    end if;
  end if;
  insert into lms_private.quiz_answer_keys (question_id, correct_answer) values (v_question.id, v_key)
  on conflict on constraint quiz_answer_keys_pkey do update set correct_answer = excluded.correct_answer;
  return v_question;
end
$$;
comment on function lms_public.save_quiz_question(uuid, text, text, jsonb, numeric, integer, text, jsonb, uuid) is E'@resultFieldName question\nCreates (no questionId) or replaces a question and its answer key, for the course''s instructor or an admin. Keys: multiple_choice {"correct": ["<option id>"]}, true_false {"correct": true}, short_answer {"accepted": ["..."]}, essay none. Refuses questions that cannot be graded (INVAL). Run regradeQuiz after changing a key or points.';

create or replace function lms_public.quiz_questions_answer_key(q lms_public.quiz_questions) returns jsonb
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  -- The stored question's quiz, not the argument's: a hand-made row must not pass for another.
  select k.correct_answer::jsonb from lms_private.quiz_answer_keys k
  join lms_public.quiz_questions stored on stored.id = k.question_id
  where k.question_id = q.id and lms_private.can_manage_course(lms_private.quiz_course_id(stored.quiz_id))
$$;
comment on function lms_public.quiz_questions_answer_key(lms_public.quiz_questions) is 'The question''s answer key, for the course''s instructor and admins only (null for anyone else).';

--------------------------------------------------------------------------------
-- Attempts.

create or replace function lms_private.quiz_grace() returns interval
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select make_interval(secs => lms_private.required_setting('lms.quiz_grace_seconds')::integer)
$$;
comment on function lms_private.quiz_grace() is 'How long after its deadline a submission is still accepted: lms.quiz_grace_seconds, which every caller sets (LMS_QUIZ_GRACE_SECONDS); raises when it is not set.';

create or replace function lms_private.attempts_left(p_quiz lms_public.quizzes, p_enrollment_id uuid) returns integer
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select case when p_quiz.max_attempts is null then null
              else greatest(0, p_quiz.max_attempts - (select count(*)::integer from lms_public.quiz_attempts a
                                                      where a.quiz_id = p_quiz.id and a.enrollment_id = p_enrollment_id)) end
$$;
comment on function lms_private.attempts_left(lms_public.quizzes, uuid) is 'Attempts an enrollment has left at a quiz; null when unlimited.';

create or replace function lms_public.start_quiz_attempt(quiz_id uuid) returns lms_public.quiz_attempts
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_quiz lms_public.quizzes;
  v_course_id uuid;
  v_enrollment_id uuid;
  v_attempt lms_public.quiz_attempts;
  v_order uuid[];
  v_option_orders jsonb;
begin
  select * into v_quiz from lms_public.quizzes q where q.id = start_quiz_attempt.quiz_id;
  v_course_id := lms_private.quiz_course_id(v_quiz.id);
  if v_quiz.id is null then
    raise exception using errcode = 'NTFND', message = 'no such quiz';
  end if;
  -- The enrollment's row lock serialises this student's starts: numbers never duplicate.
  select e.id into v_enrollment_id from lms_public.enrollments e
  where e.student_id = v_user_id and e.course_id = v_course_id and e.status in ('active', 'completed')
  for no key update;
  if v_enrollment_id is null then
    raise exception using errcode = 'FRBDN', message = 'enroll in the course first';
  end if;
  if not v_quiz.is_published then
    raise exception using errcode = 'NTFND', message = 'this quiz is not published';
  end if;
  select * into v_attempt from lms_public.quiz_attempts a
  where a.enrollment_id = v_enrollment_id and a.quiz_id = v_quiz.id and a.status = 'in_progress';
  if v_attempt.id is not null then
    if v_attempt.deadline_at is null or clock_timestamp() <= v_attempt.deadline_at + lms_private.quiz_grace() then
      return v_attempt;
    end if;
    perform lms_private.submit_attempt(v_attempt.id, null, true);
  end if;
  if lms_private.attempts_left(v_quiz, v_enrollment_id) = 0 then
    raise exception using errcode = 'ATMAX', message = format('no attempts left (the quiz allows %s)', v_quiz.max_attempts);
  end if;
  select array_agg(q.id order by case when v_quiz.shuffle_questions then random() end, q.order_index) into v_order
  from lms_public.quiz_questions q where q.quiz_id = v_quiz.id;
  select coalesce(jsonb_object_agg(q.id, (
           select jsonb_agg(o ->> 'id' order by case when v_quiz.shuffle_options then random() end, n)
           from jsonb_array_elements(q.options) with ordinality as x(o, n))), '{}')
    into v_option_orders
  from lms_public.quiz_questions q where q.quiz_id = v_quiz.id and q.question_type = 'multiple_choice';
  insert into lms_public.quiz_attempts (enrollment_id, quiz_id, attempt_number, started_at, deadline_at, question_order, option_orders, answers)
  values (v_enrollment_id, v_quiz.id,
          (select coalesce(max(a.attempt_number), 0) + 1 from lms_public.quiz_attempts a where a.enrollment_id = v_enrollment_id and a.quiz_id = v_quiz.id),
          now(), now() + make_interval(mins => v_quiz.time_limit_minutes), coalesce(v_order, '{}'), v_option_orders, '{}')
  returning * into v_attempt;
  if v_attempt.deadline_at is not null then
    perform lms_private.add_job('quiz_attempts__finalize', jsonb_build_object('attemptId', v_attempt.id),
      job_key => 'quiz_attempts__finalize:' || v_attempt.id, run_at => v_attempt.deadline_at + lms_private.quiz_grace());
  end if;
  return v_attempt;
end
$$;
comment on function lms_public.start_quiz_attempt(uuid) is E'@resultFieldName attempt\nStarts an attempt at a published quiz for the signed-in student (FRBDN when not enrolled, ATMAX when no attempts are left), or returns the one in progress. The question and option order is drawn once and kept; the deadline is the start plus the time limit.';

create or replace function lms_private.lock_attempt(p_attempt_id uuid) returns lms_public.quiz_attempts
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts;
begin
  -- Enrollment first, then the attempt: the order start_quiz_attempt and the progress rules follow.
  perform 1 from lms_public.enrollments e
  where e.id = (select a.enrollment_id from lms_public.quiz_attempts a where a.id = p_attempt_id)
  for no key update;
  select * into v_attempt from lms_public.quiz_attempts a where a.id = p_attempt_id for update;
  return v_attempt;
end
$$;
comment on function lms_private.lock_attempt(uuid) is 'Locks an attempt''s enrollment and then the attempt, in the order every writer follows, and returns the attempt.';

create or replace function lms_private.require_own_attempt(p_attempt_id uuid) returns lms_public.quiz_attempts
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_attempt lms_public.quiz_attempts;
begin
  v_attempt := lms_private.lock_attempt(p_attempt_id);
  if v_attempt.id is null
     or not exists (select from lms_public.enrollments e where e.id = v_attempt.enrollment_id and e.student_id = v_user_id) then
    raise exception using errcode = 'NTFND', message = 'no such attempt';
  end if;
  return v_attempt;
end
$$;
comment on function lms_private.require_own_attempt(uuid) is 'Locks and returns the signed-in student''s attempt (NTFND for anyone else''s).';

create or replace function lms_public.save_quiz_answers(attempt_id uuid, answers jsonb) returns lms_public.quiz_attempts
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts := lms_private.require_own_attempt(attempt_id);
begin
  if v_attempt.status <> 'in_progress' then
    raise exception using errcode = 'ATDON', message = 'this attempt was already submitted';
  end if;
  if v_attempt.deadline_at is not null and clock_timestamp() > v_attempt.deadline_at + lms_private.quiz_grace() then
    raise exception using errcode = 'ATLAT', message = 'the time limit has passed; the attempt is submitted with its saved answers';
  end if;
  if jsonb_typeof(coalesce(answers, 'null')) <> 'object' then
    raise exception using errcode = 'INVAL', message = 'answers are an object from question id to answer';
  end if;
  update lms_public.quiz_attempts a set answers = coalesce(a.answers, '{}') || save_quiz_answers.answers
  where a.id = v_attempt.id returning * into v_attempt;
  return v_attempt;
end
$$;
comment on function lms_public.save_quiz_answers(uuid, jsonb) is E'@resultFieldName attempt\nAutosaves answers ({"<question id>": answer}) into an attempt in progress, before its deadline (ATDON, ATLAT).';

create or replace function lms_private.auto_grade(p_question_type text, p_key text, p_answer jsonb) returns boolean
  language plpgsql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_key jsonb := p_key::jsonb;
begin
  if p_answer is null or p_answer = 'null'::jsonb then
    return false;
  end if;
  return case p_question_type
    when 'multiple_choice' then
      (select coalesce(array_agg(x order by x), '{}') from (select distinct jsonb_array_elements_text(
         case jsonb_typeof(p_answer) when 'array' then p_answer when 'string' then jsonb_build_array(p_answer) else '[]' end) as x) given)
      = (select array_agg(x order by x) from (select distinct jsonb_array_elements_text(v_key -> 'correct') as x) correct)
    when 'true_false' then jsonb_typeof(p_answer) = 'boolean' and p_answer = v_key -> 'correct'
    -- ICU lower-casing, so that case folding works beyond ASCII whatever the database's locale.
    when 'short_answer' then jsonb_typeof(p_answer) = 'string'
      and lower(btrim(p_answer #>> '{}', E' \t\r\n') collate "und-x-icu")
          in (select lower(btrim(a, E' \t\r\n') collate "und-x-icu") from jsonb_array_elements_text(v_key -> 'accepted') a)
    else false
  end;
end
$$;
comment on function lms_private.auto_grade(text, text, jsonb) is 'Whether an answer is right: the exact set of correct options (no extra, none missing), the boolean, or an accepted text after trimming whitespace and ignoring case (ICU, so accents fold too). No answer is wrong.';

create or replace function lms_private.finish_attempt(p_attempt_id uuid) returns lms_public.quiz_attempts
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts;
  v_quiz lms_public.quizzes;
  v_pending integer;
  v_score numeric;
  v_max numeric;
  v_percentage numeric;
begin
  v_attempt := lms_private.lock_attempt(p_attempt_id);
  select * into v_quiz from lms_public.quizzes where id = v_attempt.quiz_id;
  select count(*) into v_pending from lms_public.quiz_questions q
  where q.id = any(v_attempt.question_order) and q.question_type = 'essay'
    and not exists (select from lms_public.quiz_answer_grades g where g.attempt_id = v_attempt.id and g.question_id = q.id and g.points_awarded is not null);
  if v_pending > 0 then
    update lms_public.quiz_attempts set status = 'submitted', score = null, max_score = null, percentage = null, is_passed = null, graded_at = null
    where id = v_attempt.id returning * into v_attempt;
  else
    select coalesce(sum(least(g.points_awarded, q.points)), 0), coalesce(sum(q.points), 0) into v_score, v_max
    from lms_public.quiz_questions q
    left join lms_public.quiz_answer_grades g on g.attempt_id = v_attempt.id and g.question_id = q.id
    where q.id = any(v_attempt.question_order);
    v_percentage := case when v_max = 0 then 0 else round(100 * v_score / v_max, 2) end;
    update lms_public.quiz_attempts set
      status = 'graded', score = v_score, max_score = v_max, percentage = v_percentage,
      is_passed = v_percentage >= v_quiz.passing_score, graded_at = coalesce(graded_at, now())
    where id = v_attempt.id returning * into v_attempt;
  end if;

  -- The lesson: attempts counted, the best graded percentage, and completion on a graded pass
  -- (kept thereafter, even if a regrade lowers the scores).
  insert into lms_public.lesson_progress as p (enrollment_id, lesson_id, status, started_at, last_accessed_at, attempts_count, completion_percentage)
  values (v_attempt.enrollment_id, v_quiz.lesson_id, 'in_progress', v_attempt.started_at, now(), 0, 0)
  on conflict on constraint lesson_progress_enrollment_id_lesson_id_key do nothing;
  update lms_public.lesson_progress p set
    attempts_count = (select count(*) from lms_public.quiz_attempts a where a.enrollment_id = v_attempt.enrollment_id and a.quiz_id = v_quiz.id),
    completion_percentage = coalesce((select max(a.percentage) from lms_public.quiz_attempts a
                                      where a.enrollment_id = v_attempt.enrollment_id and a.quiz_id = v_quiz.id and a.status = 'graded'), 0),
    last_accessed_at = now(),
    status = case when v_quiz.quiz_type = 'graded' and v_attempt.is_passed then 'completed' else p.status end,
    completed_at = case when v_quiz.quiz_type = 'graded' and v_attempt.is_passed then coalesce(p.completed_at, now()) else p.completed_at end
  where p.enrollment_id = v_attempt.enrollment_id and p.lesson_id = v_quiz.lesson_id;
  return v_attempt;
end
$$;
comment on function lms_private.finish_attempt(uuid) is 'Totals a submitted attempt: still submitted while an essay awaits a grade; otherwise graded, with score, percentage and pass, and a graded pass completes the quiz''s lesson.';

create or replace function lms_private.submit_attempt(p_attempt_id uuid, p_answers jsonb, p_overdue boolean) returns lms_public.quiz_attempts
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts;
  v_answers jsonb;
begin
  v_attempt := lms_private.lock_attempt(p_attempt_id);
  if v_attempt.status <> 'in_progress' then
    return v_attempt;
  end if;
  v_answers := coalesce(v_attempt.answers, '{}') || coalesce(p_answers, '{}');
  update lms_public.quiz_attempts set
    answers = v_answers,
    submitted_at = case when p_overdue then least(clock_timestamp(), deadline_at + lms_private.quiz_grace()) else clock_timestamp() end,
    time_taken_seconds = greatest(0, extract(epoch from (case when p_overdue then least(clock_timestamp(), deadline_at) else clock_timestamp() end) - started_at))::integer,
    status = 'submitted'
  where id = v_attempt.id;
  insert into lms_public.quiz_answer_grades (attempt_id, question_id, points_awarded, is_correct, graded_at)
  select v_attempt.id, q.id,
         case when lms_private.auto_grade(q.question_type, k.correct_answer, v_answers -> q.id::text) then q.points else 0 end,
         lms_private.auto_grade(q.question_type, k.correct_answer, v_answers -> q.id::text), now()
  from lms_public.quiz_questions q join lms_private.quiz_answer_keys k on k.question_id = q.id
  where q.id = any(v_attempt.question_order) and q.question_type <> 'essay'
  on conflict on constraint quiz_answer_grades_attempt_id_question_id_key do nothing;
  return lms_private.finish_attempt(v_attempt.id);
end
$$;
comment on function lms_private.submit_attempt(uuid, jsonb, boolean) is 'Submits an attempt and grades what can be graded at once; an overdue attempt is finalised with its saved answers.';

create or replace function lms_public.submit_quiz_attempt(attempt_id uuid, answers jsonb default null) returns lms_public.quiz_attempts
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts := lms_private.require_own_attempt(attempt_id);
begin
  if v_attempt.status <> 'in_progress' then
    raise exception using errcode = 'ATDON', message = 'this attempt was already submitted';
  end if;
  if answers is not null and jsonb_typeof(answers) <> 'object' then
    raise exception using errcode = 'INVAL', message = 'answers are an object from question id to answer';
  end if;
  if v_attempt.deadline_at is not null and clock_timestamp() > v_attempt.deadline_at + lms_private.quiz_grace() then
    raise exception using errcode = 'ATLAT', message = 'the time limit has passed; the attempt is submitted with its saved answers';
  end if;
  return lms_private.submit_attempt(v_attempt.id, answers, false);
end
$$;
comment on function lms_public.submit_quiz_attempt(uuid, jsonb) is E'@resultFieldName attempt\nSubmits an attempt (with final answers, merged over the saved ones) and grades it: graded at once without essays; submitted, awaiting the instructor, with essays. Refused after the deadline plus the grace period (ATLAT) or twice (ATDON).';

create or replace function lms_private.finalize_overdue_attempt(p_attempt_id uuid) returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts;
begin
  v_attempt := lms_private.lock_attempt(p_attempt_id);
  if v_attempt.id is null or v_attempt.status <> 'in_progress' then
    return 'nothing to do';
  end if;
  if v_attempt.deadline_at is null or clock_timestamp() <= v_attempt.deadline_at + lms_private.quiz_grace() then
    return 'not yet due';
  end if;
  return (lms_private.submit_attempt(v_attempt.id, null, true)).status;
end
$$;
comment on function lms_private.finalize_overdue_attempt(uuid) is 'Submits an attempt past its deadline (plus grace) with its saved answers; run by the quiz_attempts__finalize job queued at the deadline, and by the periodic sweep.';

create or replace function lms_private.finalize_overdue_attempts() returns integer
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
  v_count integer := 0;
begin
  for v_id in
    select a.id from lms_public.quiz_attempts a
    where a.status = 'in_progress' and a.deadline_at + lms_private.quiz_grace() < clock_timestamp()
    order by a.enrollment_id, a.id
  loop
    perform lms_private.finalize_overdue_attempt(v_id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
comment on function lms_private.finalize_overdue_attempts() is 'The periodic sweep: finalises every attempt past its deadline, in case a scheduled job was lost.';

--------------------------------------------------------------------------------
-- What a student sees of their attempt.

-- Replaced when its attributes change, with the functions below that use it (see common.sql).
select lms_private.define_composite_type('lms_public.attempt_question', $$
  question_id uuid,
  position integer,
  question_text text,
  question_type varchar(50),
  points numeric(5, 2),
  options jsonb,
  answer jsonb,
  points_awarded numeric(6, 2),
  feedback text,
  correct_answer jsonb,
  explanation text
$$);
comment on type lms_public.attempt_question is 'A question as the student sees it in their attempt: never the key, unless the quiz reveals it.';
comment on column lms_public.attempt_question.question_id is 'The question.';
comment on column lms_public.attempt_question.position is 'Its place in this attempt (1, 2, …), drawn once when shuffling.';
comment on column lms_public.attempt_question.question_text is 'The question.';
comment on column lms_public.attempt_question.question_type is 'multiple_choice, true_false, short_answer or essay.';
comment on column lms_public.attempt_question.points is 'Points it is worth.';
comment on column lms_public.attempt_question.options is 'The choices [{id, text}] in this attempt''s order, without correctness.';
comment on column lms_public.attempt_question.answer is 'The student''s saved or submitted answer.';
comment on column lms_public.attempt_question.points_awarded is 'Points earned, once the attempt is graded: for an essay always, for other questions under the same condition as the answer key, since they would tell right from wrong.';
comment on column lms_public.attempt_question.feedback is 'The instructor''s feedback on an essay, once graded.';
comment on column lms_public.attempt_question.correct_answer is 'The answer key, only once graded, when the quiz shows correct answers and the student has passed or has no attempts left.';
comment on column lms_public.attempt_question.explanation is 'The explanation, under the same condition as the answer key.';

create or replace function lms_private.reveals_answers(p_attempt lms_public.quiz_attempts) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  -- Only after a pass or the last attempt: otherwise a throwaway attempt would harvest the key.
  select p_attempt.status = 'graded' and q.show_correct_answers
     and not exists (select from lms_public.quiz_attempts open where open.enrollment_id = p_attempt.enrollment_id
                     and open.quiz_id = q.id and open.status = 'in_progress')
     and (exists (select from lms_public.quiz_attempts a where a.enrollment_id = p_attempt.enrollment_id and a.quiz_id = q.id and a.is_passed)
          or lms_private.attempts_left(q, p_attempt.enrollment_id) = 0)
  from lms_public.quizzes q where q.id = p_attempt.quiz_id
$$;
comment on function lms_private.reveals_answers(lms_public.quiz_attempts) is 'Whether a graded attempt may show its answer keys: the quiz shows correct answers, no attempt is in progress, and the student passed it or has no attempts left.';

create or replace function lms_public.quiz_attempts_questions(a lms_public.quiz_attempts) returns setof lms_public.attempt_question
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  with attempt as (
    select at.* from lms_public.quiz_attempts at join lms_public.enrollments e on e.id = at.enrollment_id
    where at.id = a.id and (e.student_id = lms_private.current_user_id() or lms_private.can_manage_course(e.course_id))
  ), reveal as (
    select lms_private.reveals_answers(attempt) or lms_private.can_manage_course(lms_private.quiz_course_id(attempt.quiz_id)) as yes from attempt
  )
  select q.id, o.position::integer, q.question_text, q.question_type, q.points,
         case when q.question_type = 'multiple_choice' then (
           select jsonb_agg(opt order by ord.n)
           from jsonb_array_elements_text(attempt.option_orders -> q.id::text) with ordinality as ord(option_id, n)
           join jsonb_array_elements(q.options) opt on opt ->> 'id' = ord.option_id) end,
         attempt.answers -> q.id::text,
         -- An automatic question's points would tell right from wrong: they follow the reveal rule.
         case when attempt.status = 'graded' and (q.question_type = 'essay' or (select yes from reveal)) then g.points_awarded end,
         case when attempt.status = 'graded' then g.feedback end,
         case when (select yes from reveal) then k.correct_answer::jsonb end,
         case when (select yes from reveal) then q.explanation end
  from attempt
  cross join lateral unnest(attempt.question_order) with ordinality as o(question_id, position)
  join lms_public.quiz_questions q on q.id = o.question_id
  left join lms_private.quiz_answer_keys k on k.question_id = q.id
  left join lms_public.quiz_answer_grades g on g.attempt_id = attempt.id and g.question_id = q.id
  order by o.position
$$;
comment on function lms_public.quiz_attempts_questions(lms_public.quiz_attempts) is E'@behavior -connection +list\n@listSuffix omit\nThe attempt''s questions in its order, for its student (and the course''s instructor): no key and no explanation unless the quiz reveals them.';

--------------------------------------------------------------------------------
-- Manual grading and regrading.

create or replace function lms_public.grading_queue() returns setof lms_public.quiz_attempts
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select a.* from lms_public.quiz_attempts a join lms_public.enrollments e on e.id = a.enrollment_id
  where a.status = 'submitted' and lms_private.can_manage_course(e.course_id)
  order by a.submitted_at, a.id
$$;
comment on function lms_public.grading_queue() is 'Attempts awaiting a grade (an essay) in the courses the signed-in instructor teaches, oldest first; every course for admins.';

create or replace function lms_public.grade_essay(attempt_id uuid, question_id uuid, points numeric, feedback text default null) returns lms_public.quiz_attempts
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts;
  v_question lms_public.quiz_questions;
begin
  v_attempt := lms_private.lock_attempt(grade_essay.attempt_id);
  if v_attempt.id is null then
    raise exception using errcode = 'NTFND', message = 'no such attempt';
  end if;
  perform lms_private.require_course_manager(lms_private.quiz_course_id(v_attempt.quiz_id));
  select * into v_question from lms_public.quiz_questions q
  where q.id = grade_essay.question_id and q.id = any(v_attempt.question_order) and q.question_type = 'essay';
  if v_question.id is null then
    raise exception using errcode = 'NTFND', message = 'no such essay question in this attempt';
  end if;
  if v_attempt.status = 'in_progress' then
    raise exception using errcode = 'INVAL', message = 'the attempt is still in progress';
  end if;
  if points is null or points < 0 or points > v_question.points then
    raise exception using errcode = 'INVAL', message = format('points must be from 0 to %s', v_question.points);
  end if;
  insert into lms_public.quiz_answer_grades (attempt_id, question_id, points_awarded, feedback, graded_by, graded_at)
  values (v_attempt.id, v_question.id, points, feedback, lms_private.current_user_id(), now())
  on conflict on constraint quiz_answer_grades_attempt_id_question_id_key do update
    set points_awarded = excluded.points_awarded, feedback = excluded.feedback, graded_by = excluded.graded_by, graded_at = excluded.graded_at;
  return lms_private.finish_attempt(v_attempt.id);
end
$$;
comment on function lms_public.grade_essay(uuid, uuid, numeric, text) is E'@resultFieldName attempt\nGrades one essay of a submitted attempt (points from 0 to the question''s, optional feedback), for the course''s instructor or an admin. The last essay graded makes the attempt graded, with its totals.';

create or replace function lms_public.regrade_quiz(quiz_id uuid) returns integer
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
  v_count integer := 0;
begin
  perform lms_private.require_course_manager(lms_private.quiz_course_id(quiz_id));
  for v_id in
    select a.id from lms_public.quiz_attempts a where a.quiz_id = regrade_quiz.quiz_id and a.status in ('submitted', 'graded')
    order by a.enrollment_id, a.id
  loop
    perform lms_private.lock_attempt(v_id);
    -- Automatic grades are recomputed from the stored answers; essay grades are the instructor's and stay.
    insert into lms_public.quiz_answer_grades as g (attempt_id, question_id, points_awarded, is_correct, graded_at)
    select v_id, q.id,
           case when lms_private.auto_grade(q.question_type, k.correct_answer, a.answers -> q.id::text) then q.points else 0 end,
           lms_private.auto_grade(q.question_type, k.correct_answer, a.answers -> q.id::text), now()
    from lms_public.quiz_attempts a
    join lms_public.quiz_questions q on q.id = any(a.question_order) and q.question_type <> 'essay'
    join lms_private.quiz_answer_keys k on k.question_id = q.id
    where a.id = v_id
    on conflict on constraint quiz_answer_grades_attempt_id_question_id_key do update
      set points_awarded = excluded.points_awarded, is_correct = excluded.is_correct, graded_at = excluded.graded_at;
    update lms_public.quiz_attempts set graded_at = null where id = v_id and status = 'graded';
    perform lms_private.finish_attempt(v_id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
comment on function lms_public.regrade_quiz(uuid) is E'@resultFieldName regradedAttempts\nRecomputes every submitted attempt''s automatic grades from its stored answers with the current keys and points, keeping the essay grades, and returns how many attempts were regraded. A completion already earned stays earned, even if a pass becomes a fail.';

create or replace function lms_private.answer_key_shape_is_valid(p_key text) returns boolean
  language plpgsql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_key jsonb;
begin
  if p_key is null then
    return true;
  end if;
  begin
    v_key := p_key::jsonb;
  exception when others then
    return false;
  end;
  return jsonb_typeof(v_key) = 'object' and (
    v_key = '{}'::jsonb
    or (v_key ?& array['correct'] and (select count(*) from jsonb_object_keys(v_key)) = 1
        and jsonb_typeof(v_key -> 'correct') in ('array', 'boolean'))
    or (v_key ?& array['accepted'] and (select count(*) from jsonb_object_keys(v_key)) = 1
        and jsonb_typeof(v_key -> 'accepted') = 'array'));
end
$$;
comment on function lms_private.answer_key_shape_is_valid(text) is 'CHECK of quiz_answer_keys.correct_answer: JSON of one of the documented shapes ({"correct": [...]}, {"correct": true|false}, {"accepted": [...]}, {}).';

--------------------------------------------------------------------------------
-- Execute grants. Everything not named here runs only inside definer functions or triggers.

select lms_private.grant_domain_functions(
  everyone => array['start_quiz_attempt', 'save_quiz_answers', 'submit_quiz_attempt'],
  signed_in => array['quiz_attempts_questions', 'quiz_questions_answer_key', 'options_are_valid', 'answer_key_shape_is_valid'],
  teachers => array['save_quiz_question', 'grading_queue', 'grade_essay', 'regrade_quiz', 'tg_quizzes__check_lesson']
);
--! EndIncluded functions/quizzes.sql
--! Included functions/certificates.sql
-- Certificates: the functions that issue certificates by the database's own rule (rendered and
-- signed by the worker), verify them for anyone with the number, revoke and reissue them, and
-- their execute grants. Re-runnable: included by every migration that changes it.
--
-- Eligibility: only an enrollment that becomes 'completed' queues certificates__issue (one job
-- per enrollment, by job_key); nothing else issues, except an admin's reissue.
-- Numbers: CB-XXXX-XXXX-XXXX-C, 60 random bits in Crockford base32 plus a check character
-- (mod 37, ISO 7064 style), so a mistyped number is caught before any lookup.
-- The worker: lms_private.prepare_certificate (the row, idempotent) → render and sign in Node →
-- lms_private.complete_certificate (hashes, signature; sets enrollments.certificate_issued_at).

select lms_private.begin_domain_functions();

create or replace function lms_private.certificate_check_char(p_body text) returns text
  language plpgsql immutable strict
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_remainder integer := 0;
  v_symbol text;
begin
  -- Crockford's check symbol: the body's value mod 37. Horner's rule keeps every step an exact
  -- integer below 37 * 32; power(32, n) would be double precision and round the leading weights.
  foreach v_symbol in array regexp_split_to_array(p_body, '') loop
    v_remainder := (v_remainder * 32 + strpos('0123456789ABCDEFGHJKMNPQRSTVWXYZ', v_symbol) - 1) % 37;
  end loop;
  return substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U', v_remainder + 1, 1);
end
$$;
comment on function lms_private.certificate_check_char(text) is 'The Crockford base32 check character of a certificate number''s 12 digits: their value, read as one base-32 number, mod 37, in exact integer arithmetic.';

create or replace function lms_private.normalise_certificate_number(p_number text) returns text
  language plpgsql stable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  -- Crockford decoding: case-insensitive, O→0, I and L→1, separators ignored.
  v_clean text := translate(upper(regexp_replace(coalesce(p_number, ''), '[\s-]', '', 'g')), 'OIL', '011');
  v_body text;
  v_number text;
begin
  if v_clean !~ '^CB[0-9A-HJKMNP-TV-Z]{12}[0-9A-HJKMNP-TV-Z*~$=U]$' then
    return null;
  end if;
  v_body := substr(v_clean, 3, 12);
  v_number := format('CB-%s-%s-%s-%s', substr(v_body, 1, 4), substr(v_body, 5, 4), substr(v_body, 9, 4), right(v_clean, 1));
  if lms_private.certificate_check_char(v_body) = right(v_clean, 1)
     or exists (select from lms_private.legacy_certificate_numbers l where l.certificate_number = v_number) then
    return v_number;
  end if;
  return null;
end
$$;
comment on function lms_private.normalise_certificate_number(text) is 'The canonical CB-XXXX-XXXX-XXXX-C form of a typed certificate number, or null when it is malformed or its check character is wrong (a number issued with the old, miscomputed check character is accepted as it was printed).';

create or replace function lms_private.new_certificate_number() returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_bytes bytea := gen_random_bytes(8);
  v_bits bigint := 0;
  v_body text := '';
begin
  for i in 0..7 loop
    v_bits := (v_bits << 8) | get_byte(v_bytes, i);
  end loop;
  v_bits := v_bits & ((1::bigint << 60) - 1);
  for i in 1..12 loop
    v_body := substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((v_bits >> (5 * (12 - i))) & 31)::integer + 1, 1) || v_body;
  end loop;
  v_body := reverse(v_body);
  return format('CB-%s-%s-%s-%s', substr(v_body, 1, 4), substr(v_body, 5, 4), substr(v_body, 9, 4), lms_private.certificate_check_char(v_body));
end
$$;
comment on function lms_private.new_certificate_number() is 'A fresh random certificate number (60 random bits), with its check character.';

create or replace function lms_private.tg_enrollments__queue_certificate() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if new.status = 'completed' and old.status is distinct from 'completed' then
    perform lms_private.add_job('certificates__issue', jsonb_build_object('enrollmentId', new.id),
      job_key => 'certificates__issue:' || new.id);
  end if;
  return null;
end
$$;
comment on function lms_private.tg_enrollments__queue_certificate() is 'Trigger: an enrollment that becomes completed queues certificates__issue in the same transaction, once per enrollment (job_key).';

-- Replaced when its attributes change, with the functions below that use it (see common.sql).
select lms_private.define_composite_type('lms_private.certificate_to_render', $$
  certificate_id uuid,
  certificate_number text,
  pdf_path text,
  holder_name text,
  course_title text,
  instructor_name text,
  completion_date timestamptz,
  issued_at timestamptz,
  completed boolean
$$);
comment on type lms_private.certificate_to_render is 'What the worker needs to render and sign a certificate; completed says whether it already was.';

create or replace function lms_private.prepare_certificate(p_enrollment_id uuid) returns lms_private.certificate_to_render
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_enrollment lms_public.enrollments;
  v_certificate lms_public.certificates;
  v_number text;
begin
  select * into v_enrollment from lms_public.enrollments e where e.id = p_enrollment_id for no key update;
  select * into v_certificate from lms_public.certificates c where c.enrollment_id = p_enrollment_id;
  if v_certificate.id is null then
    if v_enrollment.status is distinct from 'completed' or v_enrollment.completed_at is null then
      return null;
    end if;
    v_number := lms_private.new_certificate_number();
    insert into lms_public.certificates (enrollment_id, student_id, course_id, certificate_number, pdf_path, completion_date)
    values (v_enrollment.id, v_enrollment.student_id, v_enrollment.course_id, v_number,
            'certificates/' || v_number || '.pdf', v_enrollment.completed_at)
    returning * into v_certificate;
  end if;
  return (
    select row(v_certificate.id, v_certificate.certificate_number, v_certificate.pdf_path, u.full_name, c.title, i.full_name,
               v_certificate.completion_date, v_certificate.issued_at, v_certificate.signature is not null)::lms_private.certificate_to_render
    from lms_public.users u, lms_public.courses c join lms_public.users i on i.id = c.instructor_id
    where u.id = v_certificate.student_id and c.id = v_certificate.course_id
  );
end
$$;
comment on function lms_private.prepare_certificate(uuid) is 'The certificate of a completed enrollment, creating its row (number, derived pdf_path, completion date) the first time; null when the enrollment is not completed. Idempotent: a retry gets the same row.';

create or replace function lms_private.complete_certificate(
  p_certificate_id uuid,
  p_claims_json text,
  p_claims_sha256 text,
  p_signature text,
  p_key_id text,
  p_pdf_sha256 text
) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_certificate lms_public.certificates;
begin
  update lms_public.certificates set
    claims_json = p_claims_json, claims_sha256 = p_claims_sha256, signature = p_signature, key_id = p_key_id, pdf_sha256 = p_pdf_sha256
  where id = p_certificate_id
  returning * into v_certificate;
  update lms_public.enrollments set certificate_issued_at = coalesce(certificate_issued_at, v_certificate.issued_at)
  where id = v_certificate.enrollment_id;
end
$$;
comment on function lms_private.complete_certificate(uuid, text, text, text, text, text) is 'Records a rendered certificate: its canonical claims (RFC 8785), their SHA-256, the Ed25519 signature and key id, and the PDF''s SHA-256.';

-- Replaced when its attributes change, with the functions below that use it (see common.sql).
select lms_private.define_composite_type('lms_public.certificate_verification', $$
  certificate_number text,
  status text,
  holder_name text,
  course_title text,
  completion_date timestamptz,
  issued_at timestamptz,
  revoked_at timestamptz,
  revoked_reason text,
  replaced_by text,
  claims_json text,
  claims_sha256 text,
  signature text,
  key_id text,
  pdf_sha256 text,
  pdf_url_path text
$$);
comment on type lms_public.certificate_verification is 'What anyone holding a certificate number may know about it: its public claims, its status, and the fingerprints that prove it.';
comment on column lms_public.certificate_verification.certificate_number is 'The number, in canonical form.';
comment on column lms_public.certificate_verification.status is 'valid, revoked (see revokedAt and revokedReason), replaced (by a reissue; see replacedBy) or pending (being issued). A number revoked and then reissued stays revoked, with replacedBy set.';
comment on column lms_public.certificate_verification.holder_name is 'Who earned it.';
comment on column lms_public.certificate_verification.course_title is 'The course completed.';
comment on column lms_public.certificate_verification.completion_date is 'When the course was completed.';
comment on column lms_public.certificate_verification.issued_at is 'When the certificate was issued.';
comment on column lms_public.certificate_verification.revoked_at is 'When it was revoked, if it was.';
comment on column lms_public.certificate_verification.revoked_reason is 'Why it was revoked.';
comment on column lms_public.certificate_verification.replaced_by is 'For a reissued number: the number that replaced it.';
comment on column lms_public.certificate_verification.claims_json is 'The signed claims, as canonical JSON (RFC 8785).';
comment on column lms_public.certificate_verification.claims_sha256 is 'SHA-256 of the claims (hex).';
comment on column lms_public.certificate_verification.signature is 'Ed25519 signature of the canonical claims (base64url).';
comment on column lms_public.certificate_verification.key_id is 'Which published key verifies the signature.';
comment on column lms_public.certificate_verification.pdf_sha256 is 'SHA-256 of the PDF (hex).';
comment on column lms_public.certificate_verification.pdf_url_path is 'Where the PDF is served, relative to the site.';

create or replace function lms_public.verify_certificate(number text) returns lms_public.certificate_verification
  language plpgsql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_number text := lms_private.normalise_certificate_number(number);
  v_result lms_public.certificate_verification;
begin
  if v_number is null then
    return null;
  end if;
  select c.certificate_number, case when c.is_revoked then 'revoked' when c.signature is null then 'pending' else 'valid' end,
         u.full_name, co.title, c.completion_date, c.issued_at, c.revoked_at, c.revoked_reason, null,
         c.claims_json, c.claims_sha256, c.signature, c.key_id, c.pdf_sha256, '/certificates/' || c.certificate_number || '.pdf'
    into v_result
  from lms_public.certificates c join lms_public.users u on u.id = c.student_id join lms_public.courses co on co.id = c.course_id
  where c.certificate_number = v_number;
  if v_result.certificate_number is not null then
    return v_result;
  end if;
  select h.certificate_number, case when h.revoked_at is not null then 'revoked' else 'replaced' end,
         h.holder_name, h.course_title, h.completion_date, h.issued_at, h.revoked_at, h.revoked_reason,
         c.certificate_number, h.claims_json, h.claims_sha256, h.signature, h.key_id, h.pdf_sha256, null
    into v_result
  from lms_private.certificate_history h join lms_public.certificates c on c.id = h.certificate_id
  where h.certificate_number = v_number;
  return case when v_result.certificate_number is null then null else v_result end;
end
$$;
comment on function lms_public.verify_certificate(text) is 'Checks a certificate number, for anyone: its public claims and status (valid, revoked with date and reason, replaced by a newer number, or pending; a revoked number later reissued shows revoked and replaced), and its fingerprints; null for an unknown or mistyped number (the check character catches typos).';

create or replace function lms_public.revoke_certificate(certificate_id uuid, reason text) returns lms_public.certificates
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_admin_id uuid := lms_private.require_admin();
  v_certificate lms_public.certificates;
begin
  if nullif(btrim(coalesce(reason, '')), '') is null then
    raise exception using errcode = 'INVAL', message = 'give a reason for the revocation';
  end if;
  update lms_public.certificates c set is_revoked = true, revoked_at = coalesce(c.revoked_at, now()), revoked_reason = btrim(reason)
  where c.id = revoke_certificate.certificate_id
  returning * into v_certificate;
  if v_certificate.id is null then
    raise exception using errcode = 'NTFND', message = 'no such certificate';
  end if;
  perform lms_private.log_security_event('certificate_revoked', v_certificate.student_id,
    jsonb_build_object('certificate_number', v_certificate.certificate_number, 'reason', btrim(reason)), v_admin_id);
  return v_certificate;
end
$$;
comment on function lms_public.revoke_certificate(uuid, text) is E'@resultFieldName certificate\nAdmins only: revokes a certificate with a reason. Nothing is deleted; verification shows it revoked at once.';

create or replace function lms_public.reissue_certificate(certificate_id uuid) returns lms_public.certificates
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_admin_id uuid := lms_private.require_admin();
  v_old lms_public.certificates;
  v_certificate lms_public.certificates;
  v_number text := lms_private.new_certificate_number();
begin
  select * into v_old from lms_public.certificates c where c.id = reissue_certificate.certificate_id for update;
  if v_old.id is null then
    raise exception using errcode = 'NTFND', message = 'no such certificate';
  end if;
  insert into lms_private.certificate_history (certificate_id, certificate_number, holder_name, course_title, completion_date, issued_at,
                                               claims_json, claims_sha256, signature, key_id, pdf_sha256, pdf_path,
                                               revoked_at, revoked_reason)
  -- What the old certificate certified: its signed claims, not today's name and title.
  select v_old.id, v_old.certificate_number,
         coalesce(v_old.claims_json::jsonb ->> 'holder', u.full_name), coalesce(v_old.claims_json::jsonb ->> 'course', co.title),
         v_old.completion_date, v_old.issued_at,
         v_old.claims_json, v_old.claims_sha256, v_old.signature, v_old.key_id, v_old.pdf_sha256, v_old.pdf_path,
         -- A revoked number stays revoked: the reissue makes a new certificate, it does not clear the old one.
         case when v_old.is_revoked then v_old.revoked_at end, case when v_old.is_revoked then v_old.revoked_reason end
  from lms_public.users u, lms_public.courses co where u.id = v_old.student_id and co.id = v_old.course_id;
  update lms_public.certificates c set
    certificate_number = v_number, pdf_path = 'certificates/' || v_number || '.pdf', issued_at = now(),
    is_revoked = false, revoked_at = null, revoked_reason = null,
    claims_json = null, claims_sha256 = null, signature = null, key_id = null, pdf_sha256 = null
  where c.id = v_old.id
  returning * into v_certificate;
  perform lms_private.add_job('certificates__issue', jsonb_build_object('enrollmentId', v_certificate.enrollment_id),
    job_key => 'certificates__issue:' || v_certificate.enrollment_id);
  perform lms_private.log_security_event('certificate_reissued', v_certificate.student_id,
    jsonb_build_object('old_number', v_old.certificate_number, 'new_number', v_number), v_admin_id);
  return v_certificate;
end
$$;
comment on function lms_public.reissue_certificate(uuid) is E'@resultFieldName certificate\nAdmins only: reissues a certificate (after a name change, say) under a new number, with new claims and PDF; the old number stays in the history and verifies as replaced by the new one, and as revoked (date, reason) if it was.';

--------------------------------------------------------------------------------
-- Execute grants. Everything not named here runs only inside definer functions, triggers or the worker.

select lms_private.grant_domain_functions(
  everyone => array['verify_certificate', 'normalise_certificate_number', 'certificate_check_char',
    'revoke_certificate', 'reissue_certificate'],
  -- Granted since migration 000011 and kept as it was; nothing calls them as the authenticator
  -- (it has no usage on lms_public, and the certificate pages run as lms_anonymous).
  authenticator => array['verify_certificate', 'normalise_certificate_number', 'certificate_check_char']
);
--! EndIncluded functions/certificates.sql
--! Included triggers/identity.sql
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
--! EndIncluded triggers/identity.sql
--! Included triggers/catalog.sql
-- Catalog: the triggers on courses and lessons, and the ratings kept on courses from
-- enrollments. Re-runnable: included by every migration that changes it, after the functions.
-- PostgreSQL fires a table's triggers in name order.

drop trigger if exists _050_defaults on lms_public.courses;
create trigger _050_defaults before insert or update of slug, title on lms_public.courses
  for each row execute function lms_private.tg_courses__defaults();

drop trigger if exists _100_set_updated_at on lms_public.courses;
create trigger _100_set_updated_at before update on lms_public.courses
  for each row execute function lms_private.tg__set_updated_at();

drop trigger if exists _050_defaults on lms_public.lessons;
create trigger _050_defaults before insert on lms_public.lessons
  for each row execute function lms_private.tg_lessons__defaults();

drop trigger if exists _060_check_parent on lms_public.lessons;
create trigger _060_check_parent before insert or update of parent_lesson_id, course_id on lms_public.lessons
  for each row execute function lms_private.tg_lessons__check_parent();

drop trigger if exists _070_archive_instead_of_delete on lms_public.lessons;
create trigger _070_archive_instead_of_delete before delete on lms_public.lessons
  for each row execute function lms_private.tg_lessons__archive_instead_of_delete();

drop trigger if exists _100_set_updated_at on lms_public.lessons;
create trigger _100_set_updated_at before update on lms_public.lessons
  for each row execute function lms_private.tg__set_updated_at();

drop trigger if exists _100_check_review on lms_public.enrollments;
create trigger _100_check_review before update of rating, review on lms_public.enrollments
  for each row execute function lms_private.tg_enrollments__check_review();

drop trigger if exists _600_refresh_course_rating on lms_public.enrollments;
create trigger _600_refresh_course_rating after update of rating, status or delete on lms_public.enrollments
  for each row execute function lms_private.tg_enrollments__refresh_course_rating();
--! EndIncluded triggers/catalog.sql
--! Included triggers/learning.sql
-- Learning: the statement triggers that keep enrollments' derived numbers true when progress,
-- lessons or quizzes change. Re-runnable: included by every migration that changes it, after
-- the functions. A trigger with transition tables has one event, hence three per table.

drop trigger if exists _500_recalculate_insert on lms_public.lesson_progress;
create trigger _500_recalculate_insert after insert on lms_public.lesson_progress
  referencing new table as new_rows
  for each statement execute function lms_private.tg_lesson_progress__recalculate();

drop trigger if exists _500_recalculate_update on lms_public.lesson_progress;
create trigger _500_recalculate_update after update on lms_public.lesson_progress
  referencing old table as old_rows new table as new_rows
  for each statement execute function lms_private.tg_lesson_progress__recalculate();

drop trigger if exists _500_recalculate_delete on lms_public.lesson_progress;
create trigger _500_recalculate_delete after delete on lms_public.lesson_progress
  referencing old table as old_rows
  for each statement execute function lms_private.tg_lesson_progress__recalculate();

drop trigger if exists _500_recalculate_insert on lms_public.lessons;
create trigger _500_recalculate_insert after insert on lms_public.lessons
  referencing new table as new_rows
  for each statement execute function lms_private.tg_lessons__recalculate_courses();

drop trigger if exists _500_recalculate_update on lms_public.lessons;
create trigger _500_recalculate_update after update on lms_public.lessons
  referencing old table as old_rows new table as new_rows
  for each statement execute function lms_private.tg_lessons__recalculate_courses();

drop trigger if exists _500_recalculate_delete on lms_public.lessons;
create trigger _500_recalculate_delete after delete on lms_public.lessons
  referencing old table as old_rows
  for each statement execute function lms_private.tg_lessons__recalculate_courses();

drop trigger if exists _500_recalculate_insert on lms_public.quizzes;
create trigger _500_recalculate_insert after insert on lms_public.quizzes
  referencing new table as new_rows
  for each statement execute function lms_private.tg_quizzes__recalculate_courses();

drop trigger if exists _500_recalculate_update on lms_public.quizzes;
create trigger _500_recalculate_update after update on lms_public.quizzes
  referencing old table as old_rows new table as new_rows
  for each statement execute function lms_private.tg_quizzes__recalculate_courses();

drop trigger if exists _500_recalculate_delete on lms_public.quizzes;
create trigger _500_recalculate_delete after delete on lms_public.quizzes
  referencing old table as old_rows
  for each statement execute function lms_private.tg_quizzes__recalculate_courses();
--! EndIncluded triggers/learning.sql
--! Included triggers/quizzes.sql
-- Quizzes: the triggers on quizzes. Re-runnable: included by every migration that changes it,
-- after the functions. PostgreSQL fires a table's triggers in name order.

drop trigger if exists _040_check_lesson on lms_public.quizzes;
create trigger _040_check_lesson before insert or update of lesson_id, passing_score, max_attempts, time_limit_minutes on lms_public.quizzes
  for each row execute function lms_private.tg_quizzes__check_lesson();

drop trigger if exists _100_set_updated_at on lms_public.quizzes;
create trigger _100_set_updated_at before update on lms_public.quizzes
  for each row execute function lms_private.tg__set_updated_at();
--! EndIncluded triggers/quizzes.sql
--! Included triggers/certificates.sql
-- Certificates: an enrollment that becomes completed queues its certificate. Re-runnable:
-- included by every migration that changes it, after the functions.

drop trigger if exists _700_queue_certificate on lms_public.enrollments;
create trigger _700_queue_certificate after update of status on lms_public.enrollments
  for each row execute function lms_private.tg_enrollments__queue_certificate();
--! EndIncluded triggers/certificates.sql
--! Included triggers/payments.sql
-- Payments: the triggers on payments and subscriptions. Re-runnable: included by every
-- migration that changes it, after the functions.

drop trigger if exists _100_set_updated_at on lms_public.payments;
create trigger _100_set_updated_at before update on lms_public.payments
  for each row execute function lms_private.tg__set_updated_at();

drop trigger if exists _100_set_updated_at on lms_public.subscriptions;
create trigger _100_set_updated_at before update on lms_public.subscriptions
  for each row execute function lms_private.tg__set_updated_at();
--! EndIncluded triggers/payments.sql
--! Included policies/identity.sql
-- Identity: users, passwords, sessions, email tokens, MFA, lockouts, rate limits, the audit log.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.users enable row level security;
alter table lms_private.user_passwords enable row level security;
alter table lms_private.refresh_tokens enable row level security;
alter table lms_private.email_tokens enable row level security;
alter table lms_private.user_mfa enable row level security;
alter table lms_private.mfa_recovery_codes enable row level security;
alter table lms_private.user_lockouts enable row level security;
alter table lms_private.security_events enable row level security;
alter table lms_private.rate_limits enable row level security;
alter table lms_private.rate_limit_hits enable row level security;

revoke all on lms_public.users, lms_private.user_passwords, lms_private.refresh_tokens, lms_private.email_tokens,
  lms_private.user_mfa, lms_private.mfa_recovery_codes, lms_private.user_lockouts, lms_private.security_events,
  lms_private.rate_limits, lms_private.rate_limit_hits, lms_public.security_events
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Users read their own row; admins read every row. Role and flags change only through
-- functions, so the only direct write is to one's own name and profile.
grant select on lms_public.users to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant update (full_name, profile_metadata) on lms_public.users to lms_student, lms_instructor, lms_admin;

drop policy if exists select_self_or_admin on lms_public.users;
create policy select_self_or_admin on lms_public.users for select
  using (id = lms_private.current_user_id() or lms_private.is_admin());

drop policy if exists update_self on lms_public.users;
create policy update_self on lms_public.users for update
  using (id = lms_private.current_user_id())
  with check (id = lms_private.current_user_id());

-- The audit log: a view that filters to admins, granted to admins only.
grant select on lms_public.security_events to lms_admin;

-- Every lms_private table here: no visitor grant and no policy; only definer functions
-- owned by lms_owner touch them.
--! EndIncluded policies/identity.sql
--! Included policies/catalog.sql
-- Catalog: courses and lessons.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.courses enable row level security;
alter table lms_public.lessons enable row level security;

revoke all on lms_public.courses, lms_public.lessons
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Courses: everyone sees the published catalog; instructors their own drafts; enrolled
-- students keep seeing a course that was unpublished; admins see everything.
grant select on lms_public.courses to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant insert (title, slug, description, category, difficulty_level, thumbnail_url, estimated_duration_minutes, course_metadata, price, currency, min_video_watch_percent)
  on lms_public.courses to lms_instructor, lms_admin;
grant insert (instructor_id) on lms_public.courses to lms_admin;
grant update (title, slug, description, category, difficulty_level, thumbnail_url, estimated_duration_minutes, course_metadata, price, currency, min_video_watch_percent)
  on lms_public.courses to lms_instructor, lms_admin;
grant delete on lms_public.courses to lms_instructor, lms_admin;

drop policy if exists select_published_own_or_admin on lms_public.courses;
drop policy if exists select_visible on lms_public.courses;
create policy select_visible on lms_public.courses for select
  using (
    is_published
    or instructor_id = lms_private.current_user_id()
    or lms_private.is_admin()
    or id = any((select lms_private.my_entitled_course_ids())::uuid[])
  );

drop policy if exists insert_own on lms_public.courses;
create policy insert_own on lms_public.courses for insert
  with check (instructor_id = lms_private.current_user_id() or lms_private.is_admin());

drop policy if exists update_own on lms_public.courses;
create policy update_own on lms_public.courses for update
  using (instructor_id = lms_private.current_user_id() or lms_private.is_admin())
  with check (instructor_id = lms_private.current_user_id() or lms_private.is_admin());

-- Drafts only: a published course is unpublished first; one with enrollments cannot go.
drop policy if exists delete_own_draft on lms_public.courses;
create policy delete_own_draft on lms_public.courses for delete
  using ((instructor_id = lms_private.current_user_id() and not is_published) or lms_private.is_admin());

-- Lessons: whole rows (content, video_url) for the course's instructor and admins, for
-- enrolled students, and for anyone on preview lessons of a published course. Everyone else
-- reads the public syllabus through courses.syllabus.
grant select on lms_public.lessons to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant insert (course_id, title, slug, description, content, lesson_type, order_index, parent_lesson_id, duration_minutes, video_url, is_preview, lesson_metadata)
  on lms_public.lessons to lms_instructor, lms_admin;
grant update (title, slug, description, content, lesson_type, parent_lesson_id, duration_minutes, video_url, is_preview, lesson_metadata)
  on lms_public.lessons to lms_instructor, lms_admin;

drop policy if exists select_entitled on lms_public.lessons;
create policy select_entitled on lms_public.lessons for select
  using (
    course_id = any((select lms_private.my_taught_course_ids())::uuid[])
    or lms_private.is_admin()
    or (archived_at is null and course_id = any((select lms_private.my_entitled_course_ids())::uuid[]))
    or (archived_at is null and is_preview and course_id in (select c.id from lms_public.courses c where c.is_published))
  );

drop policy if exists insert_own_course on lms_public.lessons;
create policy insert_own_course on lms_public.lessons for insert
  with check (course_id = any((select lms_private.my_taught_course_ids())::uuid[]) or lms_private.is_admin());

drop policy if exists update_own_course on lms_public.lessons;
create policy update_own_course on lms_public.lessons for update
  using (course_id = any((select lms_private.my_taught_course_ids())::uuid[]) or lms_private.is_admin())
  with check (course_id = any((select lms_private.my_taught_course_ids())::uuid[]) or lms_private.is_admin());
--! EndIncluded policies/catalog.sql
--! Included policies/learning.sql
-- Learning: enrollments and lesson progress.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.enrollments enable row level security;
alter table lms_public.lesson_progress enable row level security;

revoke all on lms_public.enrollments, lms_public.lesson_progress
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Counters and status are derived: they change only through enroll, dropCourse and the
-- progress functions. A student writes only their own rating and review.
grant select on lms_public.enrollments to lms_student, lms_instructor, lms_admin;
grant update (rating, review) on lms_public.enrollments to lms_student, lms_instructor, lms_admin;
grant select on lms_public.lesson_progress to lms_student, lms_instructor, lms_admin;

drop policy if exists select_own_taught_or_admin on lms_public.enrollments;
create policy select_own_taught_or_admin on lms_public.enrollments for select
  using (
    student_id = lms_private.current_user_id()
    or course_id = any((select lms_private.my_taught_course_ids())::uuid[])
    or lms_private.is_admin()
  );

drop policy if exists review_own on lms_public.enrollments;
create policy review_own on lms_public.enrollments for update
  using (student_id = lms_private.current_user_id() and status in ('active', 'completed'))
  with check (student_id = lms_private.current_user_id());

drop policy if exists select_own_taught_or_admin on lms_public.lesson_progress;
create policy select_own_taught_or_admin on lms_public.lesson_progress for select
  using (
    enrollment_id = any((select lms_private.my_enrollment_ids())::uuid[])
    or lesson_id in (select l.id from lms_public.lessons l where l.course_id = any((select lms_private.my_taught_course_ids())::uuid[]))
    or lms_private.is_admin()
  );
--! EndIncluded policies/learning.sql
--! Included policies/quizzes.sql
-- Quizzes: quizzes, questions, answer keys, attempts and per-answer grades.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.quizzes enable row level security;
alter table lms_public.quiz_questions enable row level security;
alter table lms_private.quiz_answer_keys enable row level security;
alter table lms_public.quiz_attempts enable row level security;
alter table lms_public.quiz_answer_grades enable row level security;

revoke all on lms_public.quizzes, lms_public.quiz_questions, lms_private.quiz_answer_keys, lms_public.quiz_attempts,
  lms_public.quiz_answer_grades
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Quizzes: settings are visible to enrolled students once published; the instructor authors them.
grant select on lms_public.quizzes to lms_student, lms_instructor, lms_admin;
grant insert (lesson_id, title, description, quiz_type, passing_score, time_limit_minutes, max_attempts, shuffle_questions, shuffle_options, show_correct_answers, is_published)
  on lms_public.quizzes to lms_instructor, lms_admin;
grant update (title, description, quiz_type, passing_score, time_limit_minutes, max_attempts, shuffle_questions, shuffle_options, show_correct_answers, is_published)
  on lms_public.quizzes to lms_instructor, lms_admin;
grant delete on lms_public.quizzes to lms_instructor, lms_admin;

-- By lesson, not by quiz id: a row being inserted (and returned) is not yet in any list of ids.
drop policy if exists select_entitled on lms_public.quizzes;
create policy select_entitled on lms_public.quizzes for select
  using (
    lesson_id = any((select lms_private.my_taught_lesson_ids())::uuid[])
    or lms_private.is_admin()
    or (is_published and lesson_id in (select l.id from lms_public.lessons l))
  );
drop policy if exists write_own on lms_public.quizzes;
create policy write_own on lms_public.quizzes for all
  using (lesson_id = any((select lms_private.my_taught_lesson_ids())::uuid[]) or lms_private.is_admin())
  with check (lesson_id = any((select lms_private.my_taught_lesson_ids())::uuid[]) or lms_private.is_admin());

-- Questions (with explanations) are for the instructor and admins; students read their
-- attempt's questions through QuizAttempt.questions, which never shows a key early.
grant select, delete on lms_public.quiz_questions to lms_instructor, lms_admin;
drop policy if exists manage_own on lms_public.quiz_questions;
create policy manage_own on lms_public.quiz_questions for all
  using (quiz_id = any((select lms_private.my_taught_quiz_ids())::uuid[]) or lms_private.is_admin());

-- Attempts: the student's own, and those of the instructor's courses. Written only by functions.
grant select on lms_public.quiz_attempts to lms_student, lms_instructor, lms_admin;
drop policy if exists select_own_taught_or_admin on lms_public.quiz_attempts;
create policy select_own_taught_or_admin on lms_public.quiz_attempts for select
  using (
    id = any((select lms_private.my_attempt_ids())::uuid[])
    or quiz_id = any((select lms_private.my_taught_quiz_ids())::uuid[])
    or lms_private.is_admin()
  );

-- Per-answer grades tell right from wrong, so students read them only through
-- QuizAttempt.questions, under the quiz's reveal rule.
grant select on lms_public.quiz_answer_grades to lms_instructor, lms_admin;
drop policy if exists select_taught_or_admin on lms_public.quiz_answer_grades;
create policy select_taught_or_admin on lms_public.quiz_answer_grades for select
  using (
    attempt_id in (select a.id from lms_public.quiz_attempts a where a.quiz_id = any((select lms_private.my_taught_quiz_ids())::uuid[]))
    or lms_private.is_admin()
  );
--! EndIncluded policies/quizzes.sql
--! Included policies/certificates.sql
-- Certificates.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.certificates enable row level security;
alter table lms_private.certificate_history enable row level security;
alter table lms_private.legacy_certificate_numbers enable row level security;

revoke all on lms_public.certificates, lms_private.certificate_history, lms_private.legacy_certificate_numbers from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Holders see theirs, instructors their courses', admins all. Anyone verifies a number through
-- verifyCertificate, which shows only public claims. Rows change only through functions.
grant select on lms_public.certificates to lms_student, lms_instructor, lms_admin;
drop policy if exists select_holder_teacher_or_admin on lms_public.certificates;
create policy select_holder_teacher_or_admin on lms_public.certificates for select
  using (lms_private.my_certificate_visibility(student_id, course_id));
--! EndIncluded policies/certificates.sql
--! Included policies/payments.sql
-- Payments: payments, subscriptions and Stripe webhook events.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.payments enable row level security;
alter table lms_public.subscriptions enable row level security;
alter table lms_private.payment_webhook_events enable row level security;

revoke all on lms_public.payments, lms_public.subscriptions, lms_private.payment_webhook_events
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- No grant and no policy yet: RLS denies every visitor until the Payments rules.
-- payment_webhook_events never gets a visitor grant: only the webhook route and worker write it.
--! EndIncluded policies/payments.sql
--! Included policies/files.sql
-- Uploaded files.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.uploaded_files enable row level security;

revoke all on lms_public.uploaded_files from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- No grant and no policy yet: RLS denies every visitor until the uploads rules.
--! EndIncluded policies/files.sql
