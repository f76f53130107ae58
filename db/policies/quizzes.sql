-- Quizzes: quizzes, questions, answer keys and attempts.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.quizzes enable row level security;
alter table lms_public.quiz_questions enable row level security;
alter table lms_private.quiz_answer_keys enable row level security;
alter table lms_public.quiz_attempts enable row level security;

revoke all on lms_public.quizzes, lms_public.quiz_questions, lms_private.quiz_answer_keys, lms_public.quiz_attempts
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- No grant and no policy yet: RLS denies every visitor until the Quizzes rules.
-- quiz_answer_keys never gets a visitor grant: keys are read through ownership-checking functions.
