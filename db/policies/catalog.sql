-- Catalog: row level security, grants and policies of courses and lessons.
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
