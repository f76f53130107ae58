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
