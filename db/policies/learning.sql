-- Learning: enrollments and lesson progress.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.enrollments enable row level security;
alter table lms_public.lesson_progress enable row level security;

revoke all on lms_public.enrollments, lms_public.lesson_progress
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- No grant and no policy yet: RLS denies every visitor until the Learning engine's rules.
