-- Catalog: courses and lessons.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.courses enable row level security;
alter table lms_public.lessons enable row level security;

revoke all on lms_public.courses, lms_public.lessons
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

grant select on lms_public.courses to lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Everyone sees published courses; instructors also see their own drafts; admins see all.
drop policy if exists select_published_own_or_admin on lms_public.courses;
create policy select_published_own_or_admin on lms_public.courses for select
  using (is_published or instructor_id = lms_private.current_user_id() or lms_private.is_admin());

-- lessons: RLS on, no grant yet; the Learning engine adds the syllabus and body rules.
