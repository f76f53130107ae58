-- Quizzes: the triggers on quizzes. Re-runnable: included by every migration that changes it,
-- after the functions. PostgreSQL fires a table's triggers in name order.

drop trigger if exists _040_check_lesson on lms_public.quizzes;
create trigger _040_check_lesson before insert or update of lesson_id, passing_score, max_attempts, time_limit_minutes on lms_public.quizzes
  for each row execute function lms_private.tg_quizzes__check_lesson();

drop trigger if exists _100_set_updated_at on lms_public.quizzes;
create trigger _100_set_updated_at before update on lms_public.quizzes
  for each row execute function lms_private.tg__set_updated_at();
