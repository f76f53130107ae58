-- Cluster-level bootstrap: the roles and the database's ownership.
-- Runs as a superuser (ROOT_DATABASE_URL, or DATABASE_URL in development) before the
-- migrations, on every `npm run db:migrate`; every statement is idempotent.
-- Passwords are not set here: development sets its own, production's DBA sets them once.

do $$
declare
  visitor text;
begin
  if not exists (select from pg_roles where rolname = 'lms_owner') then
    create role lms_owner login nosuperuser nocreaterole nocreatedb nobypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'lms_authenticator') then
    create role lms_authenticator login noinherit nosuperuser nocreaterole nocreatedb nobypassrls;
  end if;
  foreach visitor in array array['lms_anonymous', 'lms_student', 'lms_instructor', 'lms_admin'] loop
    if not exists (select from pg_roles where rolname = visitor) then
      execute format('create role %I nologin nosuperuser nocreaterole nocreatedb nobypassrls', visitor);
    end if;
    if not pg_has_role('lms_authenticator', visitor, 'member') then
      execute format('grant %I to lms_authenticator', visitor);
    end if;
  end loop;

  -- Bound parameters (passwords among them) never reach the server log.
  alter role lms_authenticator set log_parameter_max_length = 0;
  alter role lms_authenticator set log_parameter_max_length_on_error = 0;

  -- Backstops for any client of the API's role; the API sets its own from LMS_*_TIMEOUT_MS per
  -- connection. Role settings are cluster-level, so they live here: a migration runs as
  -- lms_owner, which may not alter another role.
  alter role lms_authenticator set statement_timeout = '10s';
  alter role lms_authenticator set lock_timeout = '5s';
  alter role lms_authenticator set idle_in_transaction_session_timeout = '30s';

  if (select datdba from pg_database where datname = current_database()) <> 'lms_owner'::regrole then
    execute format('alter database %I owner to lms_owner', current_database());
  end if;
end
$$;
