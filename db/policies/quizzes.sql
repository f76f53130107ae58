-- Quizzes: row level security, grants and policies of quizzes, questions, answer keys, attempts and
-- per-answer grades.
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
