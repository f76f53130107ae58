-- Learning: row level security, grants and policies of enrollments and lesson progress.
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
