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

-- PL/pgSQL, because the access rule it calls (functions/payments.sql) is defined after this file.
create or replace function lms_private.my_entitled_course_ids() returns uuid[]
  language plpgsql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- The enrollment's status follows the access rule through triggers and the sweep; asking the
  -- rule again closes the minute between a lapse with no event and the sweep.
  return (select coalesce(array_agg(e.course_id), '{}') from lms_public.enrollments e
          where e.student_id = lms_private.current_user_id() and e.status in ('active', 'completed')
            and (lms_private.course_access_of(e.student_id, e.course_id)).has_access);
end
$$;
comment on function lms_private.my_entitled_course_ids() is 'Ids of the courses the signed-in user is enrolled in (active or completed) and may still enter under the access rule (lms_private.course_access_of): their lessons are theirs to read, published or not.';

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
