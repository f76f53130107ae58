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
