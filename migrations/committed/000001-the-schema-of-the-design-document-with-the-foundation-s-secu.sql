--! Previous: -
--! Hash: sha1:c4ed5e2166f15d943373eb4147d5a86a8d12edab
--! Message: the schema of the design document, with the foundation's security model

-- Re-runnable while this is the current migration (graphile-migrate watch).
drop schema if exists lms_public cascade;
drop schema if exists lms_private cascade;

create extension if not exists pgcrypto with schema public;

create schema lms_public;
comment on schema lms_public is 'Exposed through GraphQL. The seed''s tables and the functions that clients call.';
create schema lms_private;
comment on schema lms_private is 'Never exposed. Secrets, answer keys, internal helpers, refresh tokens and webhook events.';

revoke all on schema lms_public from public;
revoke all on schema lms_private from public;
grant usage on schema lms_public to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant usage on schema lms_private to lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Functions are granted one by one, never to PUBLIC by default.
alter default privileges in schema lms_public revoke execute on functions from public;
alter default privileges in schema lms_private revoke execute on functions from public;

--------------------------------------------------------------------------------
-- 3.1 users
create table lms_public.users (
  id uuid primary key default gen_random_uuid(),
  email varchar(255) not null unique,
  full_name varchar(255) not null,
  role varchar(50) not null default 'student' constraint users_role_check check (role in ('student', 'instructor', 'admin')),
  is_active boolean not null default true,
  mfa_enabled boolean not null default false,
  profile_metadata jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_login_at timestamptz,
  email_verified_at timestamptz
);
create index ix_users_email on lms_public.users (email);
create index ix_users_role on lms_public.users (role);
create index ix_users_email_verified_at on lms_public.users (email_verified_at);
create index ix_users_is_active_created_at on lms_public.users (is_active, created_at);

comment on table lms_public.users is 'A person with an account: a student, an instructor or an admin.';
comment on column lms_public.users.id is 'The user''s id.';
comment on column lms_public.users.email is 'The sign-in email address; unique. Visible only to the user and to admins.';
comment on column lms_public.users.full_name is 'The name shown on courses and certificates.';
comment on column lms_public.users.role is 'student, instructor or admin. Changed only by admins.';
comment on column lms_public.users.is_active is 'False when an admin has deactivated the account; a deactivated user cannot sign in.';
comment on column lms_public.users.mfa_enabled is 'True once TOTP multi-factor authentication is confirmed.';
comment on column lms_public.users.profile_metadata is 'Free-form profile data that the user edits.';
comment on column lms_public.users.created_at is 'When the account was created.';
comment on column lms_public.users.updated_at is 'When the row last changed; kept by a trigger.';
comment on column lms_public.users.last_login_at is 'When the user last signed in successfully.';
comment on column lms_public.users.email_verified_at is 'When the user proved they own the email address; null until then.';

-- Deviation 1: the password hash lives in a private 1:1 table.
create table lms_private.user_passwords (
  user_id uuid primary key references lms_public.users (id) on delete cascade,
  password_hash varchar(255) not null
);
comment on table lms_private.user_passwords is 'users.password_hash of the design document, split out so that no role that may read a user row can read the hash.';
comment on column lms_private.user_passwords.user_id is 'The user; one row per user.';
comment on column lms_private.user_passwords.password_hash is 'bcrypt hash (pgcrypto crypt with gen_salt(''bf'')).';

-- 3.2 refresh_tokens (private, whole)
create table lms_private.refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references lms_public.users (id) on delete cascade,
  token_jti varchar(64) not null unique,
  expires_at timestamptz not null,
  revoked_at timestamptz,
  created_at timestamptz not null default now()
);
create index ix_refresh_tokens_user_id on lms_private.refresh_tokens (user_id);
create index ix_refresh_tokens_token_jti on lms_private.refresh_tokens (token_jti);
create index ix_refresh_tokens_expires_at on lms_private.refresh_tokens (expires_at);
create index ix_refresh_tokens_revoked_at on lms_private.refresh_tokens (revoked_at);
comment on table lms_private.refresh_tokens is 'One row per issued refresh token (session), identified by its jti.';
comment on column lms_private.refresh_tokens.id is 'The row''s id.';
comment on column lms_private.refresh_tokens.user_id is 'Whose session this is.';
comment on column lms_private.refresh_tokens.token_jti is 'The token''s unique id (JWT jti); the token itself is never stored.';
comment on column lms_private.refresh_tokens.expires_at is 'After this the token is refused; purged by a scheduled job.';
comment on column lms_private.refresh_tokens.revoked_at is 'When the token was rotated, logged out or revoked; null while live.';
comment on column lms_private.refresh_tokens.created_at is 'When the token was issued.';

-- 3.3 courses
create table lms_public.courses (
  id uuid primary key default gen_random_uuid(),
  title varchar(255) not null,
  slug varchar(255) not null unique,
  description text,
  instructor_id uuid not null references lms_public.users (id),
  category varchar(100),
  difficulty_level varchar(50),
  is_published boolean not null default false,
  thumbnail_url varchar(500),
  estimated_duration_minutes integer,
  course_metadata jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index ix_courses_instructor_id on lms_public.courses (instructor_id);
create index ix_courses_slug on lms_public.courses (slug);
create index ix_courses_category on lms_public.courses (category);
create index ix_courses_difficulty_level on lms_public.courses (difficulty_level);
-- Deviation 3: built once, as section 5 of the design document has it.
create index ix_courses_is_published_created_at on lms_public.courses (is_published, created_at desc);

comment on table lms_public.courses is 'A course that an instructor teaches. Drafts are visible to their instructor and admins; published courses to everyone.';
comment on column lms_public.courses.id is 'The course''s id.';
comment on column lms_public.courses.title is 'The course''s title.';
comment on column lms_public.courses.slug is 'Unique, URL-friendly name of the course.';
comment on column lms_public.courses.description is 'What the course covers.';
comment on column lms_public.courses.instructor_id is 'The instructor who owns the course.';
comment on column lms_public.courses.category is 'Free-form category, used to filter the catalog.';
comment on column lms_public.courses.difficulty_level is 'Free-form difficulty, such as beginner or advanced.';
comment on column lms_public.courses.is_published is 'False while the course is a draft.';
comment on column lms_public.courses.thumbnail_url is 'URL of the course''s picture.';
comment on column lms_public.courses.estimated_duration_minutes is 'How long the course takes, in minutes.';
comment on column lms_public.courses.course_metadata is 'Free-form course attributes.';
comment on column lms_public.courses.created_at is 'When the course was created.';
comment on column lms_public.courses.updated_at is 'When the row last changed; kept by a trigger.';

-- 3.4 lessons
create table lms_public.lessons (
  id uuid primary key default gen_random_uuid(),
  course_id uuid not null references lms_public.courses (id) on delete cascade,
  title varchar(255) not null,
  slug varchar(255) not null,
  description text,
  content text,
  lesson_type varchar(50) not null constraint lessons_lesson_type_check check (lesson_type in ('video', 'text', 'quiz', 'assignment')),
  order_index integer not null constraint lessons_order_index_check check (order_index >= 0),
  parent_lesson_id uuid references lms_public.lessons (id),
  duration_minutes integer,
  video_url varchar(500),
  is_preview boolean not null default false,
  lesson_metadata jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Deviation 4: deferrable, so that a reorder can permute indexes in one transaction.
  constraint lessons_course_id_order_index_key unique (course_id, order_index) deferrable initially immediate
);
create index ix_lessons_course_id on lms_public.lessons (course_id);
create index ix_lessons_parent_lesson_id on lms_public.lessons (parent_lesson_id);

comment on table lms_public.lessons is 'A lesson of a course, in order; a lesson with children acts as a section.';
comment on column lms_public.lessons.id is 'The lesson''s id.';
comment on column lms_public.lessons.course_id is 'The course the lesson belongs to.';
comment on column lms_public.lessons.title is 'The lesson''s title.';
comment on column lms_public.lessons.slug is 'URL-friendly name of the lesson within its course.';
comment on column lms_public.lessons.description is 'A short summary of the lesson.';
comment on column lms_public.lessons.content is 'The lesson''s body; readable only by those entitled to the course.';
comment on column lms_public.lessons.lesson_type is 'video, text, quiz or assignment.';
comment on column lms_public.lessons.order_index is 'Position in the course, from 0; unique per course.';
comment on column lms_public.lessons.parent_lesson_id is 'The section (parent lesson) this lesson sits in, in the same course.';
comment on column lms_public.lessons.duration_minutes is 'How long the lesson takes, in minutes.';
comment on column lms_public.lessons.video_url is 'The video of a video lesson; readable only by those entitled to the course.';
comment on column lms_public.lessons.is_preview is 'True when anyone may read the lesson''s body while the course is published.';
comment on column lms_public.lessons.lesson_metadata is 'Free-form lesson attributes.';
comment on column lms_public.lessons.created_at is 'When the lesson was created.';
comment on column lms_public.lessons.updated_at is 'When the row last changed; kept by a trigger.';

-- 3.5 enrollments
create table lms_public.enrollments (
  id uuid primary key default gen_random_uuid(),
  student_id uuid not null references lms_public.users (id),
  course_id uuid not null references lms_public.courses (id),
  enrolled_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz,
  status varchar(50) not null default 'active' constraint enrollments_status_check check (status in ('active', 'completed', 'dropped', 'expired')),
  progress_percentage numeric(5, 2) not null default 0,
  completed_lessons_count integer not null default 0,
  total_lessons_count integer not null default 0,
  total_time_spent_seconds integer not null default 0,
  last_accessed_at timestamptz,
  certificate_issued_at timestamptz,
  rating integer,
  review text,
  unique (student_id, course_id)
);
create index ix_enrollments_student_id on lms_public.enrollments (student_id);
create index ix_enrollments_course_id on lms_public.enrollments (course_id);
create index ix_enrollments_status on lms_public.enrollments (status);
create index ix_enrollments_status_enrolled_at on lms_public.enrollments (status, enrolled_at desc);

comment on table lms_public.enrollments is 'A student''s enrollment in a course, with progress that the database keeps true.';
comment on column lms_public.enrollments.id is 'The enrollment''s id.';
comment on column lms_public.enrollments.student_id is 'The enrolled student.';
comment on column lms_public.enrollments.course_id is 'The course.';
comment on column lms_public.enrollments.enrolled_at is 'When the student enrolled.';
comment on column lms_public.enrollments.started_at is 'The student''s first activity in the course.';
comment on column lms_public.enrollments.completed_at is 'When every counting lesson was first complete.';
comment on column lms_public.enrollments.status is 'active, completed, dropped or expired.';
comment on column lms_public.enrollments.progress_percentage is 'round(100 × completed / total, 2); never above 100.';
comment on column lms_public.enrollments.completed_lessons_count is 'Completed lessons that count toward completion.';
comment on column lms_public.enrollments.total_lessons_count is 'Lessons of the course that count toward completion.';
comment on column lms_public.enrollments.total_time_spent_seconds is 'Sum of the time spent over the enrollment''s lesson progress.';
comment on column lms_public.enrollments.last_accessed_at is 'The student''s latest activity in the course.';
comment on column lms_public.enrollments.certificate_issued_at is 'When the course''s certificate was issued.';
comment on column lms_public.enrollments.rating is 'The student''s rating of the course.';
comment on column lms_public.enrollments.review is 'The student''s review of the course.';

-- 3.6 lesson_progress
create table lms_public.lesson_progress (
  id uuid primary key default gen_random_uuid(),
  enrollment_id uuid not null references lms_public.enrollments (id) on delete cascade,
  lesson_id uuid not null references lms_public.lessons (id) on delete cascade,
  status varchar(50) not null default 'not_started' constraint lesson_progress_status_check check (status in ('not_started', 'in_progress', 'completed')),
  started_at timestamptz,
  completed_at timestamptz,
  time_spent_seconds integer not null default 0,
  last_position_seconds integer not null default 0,
  completion_percentage numeric(5, 2) not null default 0,
  attempts_count integer not null default 0,
  progress_metadata jsonb,
  unique (enrollment_id, lesson_id)
);
create index ix_lesson_progress_enrollment_id on lms_public.lesson_progress (enrollment_id);
create index ix_lesson_progress_lesson_id on lms_public.lesson_progress (lesson_id);

comment on table lms_public.lesson_progress is 'A student''s progress through one lesson of an enrollment.';
comment on column lms_public.lesson_progress.id is 'The row''s id.';
comment on column lms_public.lesson_progress.enrollment_id is 'The enrollment.';
comment on column lms_public.lesson_progress.lesson_id is 'The lesson.';
comment on column lms_public.lesson_progress.status is 'not_started, in_progress or completed.';
comment on column lms_public.lesson_progress.started_at is 'When the student started the lesson.';
comment on column lms_public.lesson_progress.completed_at is 'When the student completed the lesson.';
comment on column lms_public.lesson_progress.time_spent_seconds is 'Time spent on the lesson, in seconds.';
comment on column lms_public.lesson_progress.last_position_seconds is 'Where the student left a video, in seconds.';
comment on column lms_public.lesson_progress.completion_percentage is 'How much of the lesson is done, 0 to 100.';
comment on column lms_public.lesson_progress.attempts_count is 'Quiz attempts made on a quiz lesson.';
comment on column lms_public.lesson_progress.progress_metadata is 'Free-form progress data.';

-- 3.7 quizzes
create table lms_public.quizzes (
  id uuid primary key default gen_random_uuid(),
  lesson_id uuid not null unique references lms_public.lessons (id) on delete cascade,
  title varchar(255) not null,
  description text,
  quiz_type varchar(50) not null default 'graded' constraint quizzes_quiz_type_check check (quiz_type in ('practice', 'graded')),
  passing_score numeric(5, 2) not null default 70.00,
  time_limit_minutes integer,
  max_attempts integer,
  shuffle_questions boolean not null default true,
  shuffle_options boolean not null default true,
  show_correct_answers boolean not null default true,
  is_published boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index ix_quizzes_lesson_id on lms_public.quizzes (lesson_id);

comment on table lms_public.quizzes is 'The quiz of a quiz lesson (one per lesson).';
comment on column lms_public.quizzes.id is 'The quiz''s id.';
comment on column lms_public.quizzes.lesson_id is 'The quiz lesson this quiz belongs to.';
comment on column lms_public.quizzes.title is 'The quiz''s title.';
comment on column lms_public.quizzes.description is 'Instructions for the quiz.';
comment on column lms_public.quizzes.quiz_type is 'practice (never counts) or graded (counts toward completion).';
comment on column lms_public.quizzes.passing_score is 'The percentage needed to pass.';
comment on column lms_public.quizzes.time_limit_minutes is 'Minutes allowed per attempt; null for no limit.';
comment on column lms_public.quizzes.max_attempts is 'Attempts allowed per enrollment; null for no limit.';
comment on column lms_public.quizzes.shuffle_questions is 'Whether each attempt draws its own question order.';
comment on column lms_public.quizzes.shuffle_options is 'Whether each attempt draws its own option order.';
comment on column lms_public.quizzes.show_correct_answers is 'Whether students may see correct answers once they passed or have no attempts left.';
comment on column lms_public.quizzes.is_published is 'Students can start only published quizzes.';
comment on column lms_public.quizzes.created_at is 'When the quiz was created.';
comment on column lms_public.quizzes.updated_at is 'When the row last changed; kept by a trigger.';

-- 3.8 quiz_questions
create table lms_public.quiz_questions (
  id uuid primary key default gen_random_uuid(),
  quiz_id uuid not null references lms_public.quizzes (id) on delete cascade,
  question_text text not null,
  question_type varchar(50) not null constraint quiz_questions_question_type_check check (question_type in ('multiple_choice', 'true_false', 'short_answer', 'essay')),
  points numeric(5, 2) not null default 1.00,
  order_index integer not null,
  explanation text,
  options jsonb,
  question_metadata jsonb,
  unique (quiz_id, order_index)
);
create index ix_quiz_questions_quiz_id on lms_public.quiz_questions (quiz_id);

comment on table lms_public.quiz_questions is 'A question of a quiz. Its answer key lives in a private table.';
comment on column lms_public.quiz_questions.id is 'The question''s id.';
comment on column lms_public.quiz_questions.quiz_id is 'The quiz.';
comment on column lms_public.quiz_questions.question_text is 'The question as the student reads it.';
comment on column lms_public.quiz_questions.question_type is 'multiple_choice, true_false, short_answer or essay.';
comment on column lms_public.quiz_questions.points is 'Points the question is worth.';
comment on column lms_public.quiz_questions.order_index is 'Position in the quiz; unique per quiz.';
comment on column lms_public.quiz_questions.explanation is 'Shown with the correct answer, when the quiz allows it.';
comment on column lms_public.quiz_questions.options is 'The choices of a multiple-choice question, without any correctness flag.';
comment on column lms_public.quiz_questions.question_metadata is 'Free-form question attributes.';

-- Deviation 1: the answer key lives in a private 1:1 table.
create table lms_private.quiz_answer_keys (
  question_id uuid primary key references lms_public.quiz_questions (id) on delete cascade,
  correct_answer text
);
comment on table lms_private.quiz_answer_keys is 'quiz_questions.correct_answer of the design document, split out so that no student can read it.';
comment on column lms_private.quiz_answer_keys.question_id is 'The question; one row per question.';
comment on column lms_private.quiz_answer_keys.correct_answer is 'The answer key.';

-- 3.9 quiz_attempts
create table lms_public.quiz_attempts (
  id uuid primary key default gen_random_uuid(),
  enrollment_id uuid not null references lms_public.enrollments (id) on delete cascade,
  quiz_id uuid not null references lms_public.quizzes (id) on delete cascade,
  attempt_number integer not null,
  status varchar(50) not null default 'in_progress' constraint quiz_attempts_status_check check (status in ('in_progress', 'submitted', 'graded')),
  started_at timestamptz not null default now(),
  submitted_at timestamptz,
  graded_at timestamptz,
  score numeric(6, 2),
  max_score numeric(6, 2),
  percentage numeric(6, 2) constraint quiz_attempts_percentage_check check (percentage >= 0 and percentage <= 100),
  is_passed boolean,
  time_taken_seconds integer,
  answers jsonb,
  unique (enrollment_id, quiz_id, attempt_number)
);
create index ix_quiz_attempts_enrollment_id on lms_public.quiz_attempts (enrollment_id);
create index ix_quiz_attempts_quiz_id on lms_public.quiz_attempts (quiz_id);
create index ix_quiz_attempts_submitted_at on lms_public.quiz_attempts (submitted_at);

comment on table lms_public.quiz_attempts is 'A student''s attempt at a quiz.';
comment on column lms_public.quiz_attempts.id is 'The attempt''s id.';
comment on column lms_public.quiz_attempts.enrollment_id is 'The enrollment the attempt belongs to.';
comment on column lms_public.quiz_attempts.quiz_id is 'The quiz.';
comment on column lms_public.quiz_attempts.attempt_number is '1, 2, 3… per enrollment and quiz, without gaps.';
comment on column lms_public.quiz_attempts.status is 'in_progress, submitted (awaiting manual grading) or graded.';
comment on column lms_public.quiz_attempts.started_at is 'When the attempt started.';
comment on column lms_public.quiz_attempts.submitted_at is 'When the attempt was submitted.';
comment on column lms_public.quiz_attempts.graded_at is 'When grading finished.';
comment on column lms_public.quiz_attempts.score is 'Points earned.';
comment on column lms_public.quiz_attempts.max_score is 'Points available.';
comment on column lms_public.quiz_attempts.percentage is '100 × score / max_score, 0 to 100.';
comment on column lms_public.quiz_attempts.is_passed is 'Whether the percentage reached the passing score; null until graded.';
comment on column lms_public.quiz_attempts.time_taken_seconds is 'Seconds from start to submission.';
comment on column lms_public.quiz_attempts.answers is 'The student''s answers, as they wrote them.';

-- 3.10 certificates
create table lms_public.certificates (
  id uuid primary key default gen_random_uuid(),
  enrollment_id uuid not null unique references lms_public.enrollments (id),
  student_id uuid not null references lms_public.users (id),
  course_id uuid not null references lms_public.courses (id),
  certificate_number varchar(50) not null unique,
  pdf_path varchar(1024) not null,
  completion_date timestamptz not null,
  issued_at timestamptz not null default now(),
  is_revoked boolean not null default false,
  revoked_at timestamptz
);
create index ix_certificates_student_id on lms_public.certificates (student_id);
create index ix_certificates_course_id on lms_public.certificates (course_id);
create index ix_certificates_certificate_number on lms_public.certificates (certificate_number);

comment on table lms_public.certificates is 'A certificate of completion; one per enrollment.';
comment on column lms_public.certificates.id is 'The certificate''s id.';
comment on column lms_public.certificates.enrollment_id is 'The completed enrollment.';
comment on column lms_public.certificates.student_id is 'The holder.';
comment on column lms_public.certificates.course_id is 'The course completed.';
comment on column lms_public.certificates.certificate_number is 'The public verification number.';
comment on column lms_public.certificates.pdf_path is 'Where the PDF is stored.';
comment on column lms_public.certificates.completion_date is 'When the course was completed.';
comment on column lms_public.certificates.issued_at is 'When the certificate was issued.';
comment on column lms_public.certificates.is_revoked is 'True once an admin revoked the certificate.';
comment on column lms_public.certificates.revoked_at is 'When the certificate was revoked.';

-- 3.11 uploaded_files
create table lms_public.uploaded_files (
  id uuid primary key default gen_random_uuid(),
  uploader_id uuid not null references lms_public.users (id),
  filename varchar(255) not null unique,
  original_filename varchar(255) not null,
  file_url varchar(1024) not null,
  storage_path varchar(1024) not null,
  file_type varchar(50) not null default 'other',
  mime_type varchar(100) not null,
  file_size bigint not null,
  folder varchar(100) not null default 'uploads',
  storage_provider varchar(50) not null default 'local',
  is_public boolean not null default false,
  created_at timestamptz not null default now()
);
create index ix_uploaded_files_uploader_id on lms_public.uploaded_files (uploader_id);
create index ix_uploaded_files_file_type on lms_public.uploaded_files (file_type);

comment on table lms_public.uploaded_files is 'A file uploaded as course material.';
comment on column lms_public.uploaded_files.id is 'The file''s id.';
comment on column lms_public.uploaded_files.uploader_id is 'Who uploaded the file.';
comment on column lms_public.uploaded_files.filename is 'The stored, unique file name.';
comment on column lms_public.uploaded_files.original_filename is 'The name the file had on the uploader''s machine.';
comment on column lms_public.uploaded_files.file_url is 'Where the file is served.';
comment on column lms_public.uploaded_files.storage_path is 'Where the file is stored.';
comment on column lms_public.uploaded_files.file_type is 'A coarse kind, such as image, video, document or other.';
comment on column lms_public.uploaded_files.mime_type is 'The file''s MIME type.';
comment on column lms_public.uploaded_files.file_size is 'Size in bytes.';
comment on column lms_public.uploaded_files.folder is 'The logical folder the file sits in.';
comment on column lms_public.uploaded_files.storage_provider is 'Which store holds the file; local by default.';
comment on column lms_public.uploaded_files.is_public is 'Whether anyone may download the file.';
comment on column lms_public.uploaded_files.created_at is 'When the file was uploaded.';

-- 3.13 subscriptions (before payments, which reference it)
create table lms_public.subscriptions (
  id uuid primary key default gen_random_uuid(),
  stripe_subscription_id varchar(255) not null unique,
  stripe_customer_id varchar(255),
  user_id uuid not null references lms_public.users (id),
  plan_name varchar(100) not null,
  plan_price_id varchar(255) not null,
  status varchar(20) not null default 'incomplete' constraint subscriptions_status_check check (status in ('trial', 'active', 'past_due', 'canceled', 'incomplete')),
  current_period_start timestamptz,
  current_period_end timestamptz,
  courses_accessed integer not null default 0,
  total_usage integer not null default 0,
  subscription_metadata jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  canceled_at timestamptz
);
create index ix_subscriptions_user_id on lms_public.subscriptions (user_id);
create index ix_subscriptions_status on lms_public.subscriptions (status);
create index ix_subscriptions_current_period_end on lms_public.subscriptions (current_period_end);

comment on table lms_public.subscriptions is E'@name plan_subscriptions\nA user''s Stripe subscription to a plan. Named PlanSubscription in GraphQL, where Subscription is the root type of live queries.';
comment on column lms_public.subscriptions.id is 'The subscription''s id.';
comment on column lms_public.subscriptions.stripe_subscription_id is 'Stripe''s id of the subscription.';
comment on column lms_public.subscriptions.stripe_customer_id is 'Stripe''s id of the customer.';
comment on column lms_public.subscriptions.user_id is 'The subscriber.';
comment on column lms_public.subscriptions.plan_name is 'The plan''s name.';
comment on column lms_public.subscriptions.plan_price_id is 'Stripe''s id of the plan''s price.';
comment on column lms_public.subscriptions.status is 'trial, active, past_due, canceled or incomplete.';
comment on column lms_public.subscriptions.current_period_start is 'Start of the paid period.';
comment on column lms_public.subscriptions.current_period_end is 'End of the paid period.';
comment on column lms_public.subscriptions.courses_accessed is 'Courses opened under the subscription.';
comment on column lms_public.subscriptions.total_usage is 'Usage counted under the subscription.';
comment on column lms_public.subscriptions.subscription_metadata is 'Free-form subscription data.';
comment on column lms_public.subscriptions.created_at is 'When the subscription was created.';
comment on column lms_public.subscriptions.updated_at is 'When the row last changed; kept by a trigger.';
comment on column lms_public.subscriptions.canceled_at is 'When the subscription was canceled.';

-- 3.12 payments
create table lms_public.payments (
  id uuid primary key default gen_random_uuid(),
  stripe_payment_intent_id varchar(255) unique,
  stripe_subscription_id varchar(255),
  stripe_invoice_id varchar(255) unique,
  stripe_customer_id varchar(255),
  user_id uuid not null references lms_public.users (id),
  enrollment_id uuid references lms_public.enrollments (id),
  subscription_id uuid references lms_public.subscriptions (id),
  payment_type varchar(20) not null,
  amount numeric(10, 2) not null,
  currency varchar(3) not null default 'EGP',
  status varchar(20) not null default 'pending' constraint payments_status_check check (status in ('pending', 'succeeded', 'failed', 'refunded')),
  plan_name varchar(100),
  plan_price_id varchar(255),
  tax_amount numeric(10, 2) not null default 0.00,
  total_amount numeric(10, 2) not null,
  payment_metadata jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  processed_at timestamptz
);
create index ix_payments_user_id on lms_public.payments (user_id);
create index ix_payments_enrollment_id on lms_public.payments (enrollment_id);
create index ix_payments_status on lms_public.payments (status);
create index ix_payments_stripe_payment_intent_id on lms_public.payments (stripe_payment_intent_id);

comment on table lms_public.payments is 'A payment, for a course or a subscription, as Stripe reported it.';
comment on column lms_public.payments.id is 'The payment''s id.';
comment on column lms_public.payments.stripe_payment_intent_id is 'Stripe''s PaymentIntent id.';
comment on column lms_public.payments.stripe_subscription_id is 'Stripe''s subscription id, for subscription payments.';
comment on column lms_public.payments.stripe_invoice_id is 'Stripe''s invoice id.';
comment on column lms_public.payments.stripe_customer_id is 'Stripe''s customer id.';
comment on column lms_public.payments.user_id is 'Who paid.';
comment on column lms_public.payments.enrollment_id is 'The enrollment paid for, for course payments.';
comment on column lms_public.payments.subscription_id is 'The subscription paid for, for subscription payments.';
comment on column lms_public.payments.payment_type is 'What was paid for, such as a course or a subscription.';
comment on column lms_public.payments.amount is 'The amount before tax.';
comment on column lms_public.payments.currency is 'ISO 4217 currency code; EGP by default.';
comment on column lms_public.payments.status is 'pending, succeeded, failed or refunded.';
comment on column lms_public.payments.plan_name is 'The plan''s name, for subscription payments.';
comment on column lms_public.payments.plan_price_id is 'Stripe''s price id, for subscription payments.';
comment on column lms_public.payments.tax_amount is 'Tax charged.';
comment on column lms_public.payments.total_amount is 'The amount charged, tax included.';
comment on column lms_public.payments.payment_metadata is 'Free-form payment data.';
comment on column lms_public.payments.created_at is 'When the payment was created.';
comment on column lms_public.payments.updated_at is 'When the row last changed; kept by a trigger.';
comment on column lms_public.payments.processed_at is 'When the payment reached a final state.';

-- 3.14 payment_webhook_events (private, whole)
create table lms_private.payment_webhook_events (
  id uuid primary key default gen_random_uuid(),
  stripe_event_id varchar(255) not null unique,
  event_type varchar(100) not null,
  status varchar(20) not null default 'processing',
  payload text not null,
  error_message text,
  created_at timestamptz not null default now(),
  processed_at timestamptz
);
create index ix_payment_webhook_events_event_type on lms_private.payment_webhook_events (event_type);
create index ix_payment_webhook_events_status on lms_private.payment_webhook_events (status);

comment on table lms_private.payment_webhook_events is 'Every Stripe webhook event received, once per event id, for audit and replay.';
comment on column lms_private.payment_webhook_events.id is 'The row''s id.';
comment on column lms_private.payment_webhook_events.stripe_event_id is 'Stripe''s event id; unique, so a redelivered event is recorded once.';
comment on column lms_private.payment_webhook_events.event_type is 'Stripe''s event type.';
comment on column lms_private.payment_webhook_events.status is 'Where processing stands.';
comment on column lms_private.payment_webhook_events.payload is 'The raw event body as received.';
comment on column lms_private.payment_webhook_events.error_message is 'Why processing failed, if it did.';
comment on column lms_private.payment_webhook_events.created_at is 'When the event was received.';
comment on column lms_private.payment_webhook_events.processed_at is 'When processing finished.';

--------------------------------------------------------------------------------
--! Included functions/common.sql
-- Shared helpers: the request's identity, the job queue wrapper, updated_at.
-- Re-runnable: included by every migration that changes it.

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
  select current_user = 'lms_admin'
$$;
comment on function lms_private.is_admin() is 'True when the request runs as the lms_admin role.';

create or replace function lms_private.add_job(
  identifier text,
  payload jsonb default '{}'::jsonb,
  job_key text default null,
  run_at timestamptz default null,
  max_attempts integer default null
) returns void
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform graphile_worker.add_job(
    identifier => identifier,
    payload => payload::json,
    job_key => job_key,
    run_at => run_at,
    max_attempts => max_attempts
  );
end
$$;
comment on function lms_private.add_job(text, jsonb, text, timestamptz, integer) is 'Queues a graphile-worker job in the caller''s transaction, so that visitor roles need no rights on the graphile_worker schema. A job_key de-duplicates.';

create or replace function lms_private.tg__set_updated_at() returns trigger
  language plpgsql
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  new.updated_at := now();
  return new;
end
$$;
comment on function lms_private.tg__set_updated_at() is 'Trigger: keeps updated_at at the time of the latest change.';

revoke all on function lms_private.current_user_id() from public;
revoke all on function lms_private.is_admin() from public;
revoke all on function lms_private.add_job(text, jsonb, text, timestamptz, integer) from public;
revoke all on function lms_private.tg__set_updated_at() from public;
grant execute on function lms_private.current_user_id() to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant execute on function lms_private.is_admin() to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant execute on function lms_private.add_job(text, jsonb, text, timestamptz, integer) to lms_student, lms_instructor, lms_admin;
--! EndIncluded functions/common.sql
--! Included functions/auth.sql
-- Identity: who the request is, password rows, session clean-up.
-- Re-runnable: included by every migration that changes it.

create or replace function lms_public.current_user_profile() returns lms_public.users
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select u.* from lms_public.users u where u.id = lms_private.current_user_id()
$$;
comment on function lms_public.current_user_profile() is E'@name current_user\nThe signed-in user, or null when anonymous.';
revoke all on function lms_public.current_user_profile() from public;
grant execute on function lms_public.current_user_profile() to lms_anonymous, lms_student, lms_instructor, lms_admin;

create or replace function lms_private.tg_users__require_password() returns trigger
  language plpgsql
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if exists (select from lms_public.users u where u.id = new.id)
     and not exists (select from lms_private.user_passwords p where p.user_id = new.id) then
    raise exception using errcode = 'not_null_violation',
      message = 'a user needs a password (lms_private.user_passwords) by the end of the transaction',
      table = 'users', column = 'password_hash';
  end if;
  return null;
end
$$;
comment on function lms_private.tg_users__require_password() is 'Constraint trigger: keeps the design document''s users.password_hash NOT NULL across the 1:1 split.';
revoke all on function lms_private.tg_users__require_password() from public;

create or replace function lms_private.purge_expired_refresh_tokens() returns integer
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  with purged as (
    delete from lms_private.refresh_tokens where expires_at < now() returning 1
  )
  select count(*)::integer from purged
$$;
comment on function lms_private.purge_expired_refresh_tokens() is 'Deletes refresh tokens past their expiry and returns how many; run by the refresh_tokens__purge_expired job.';
revoke all on function lms_private.purge_expired_refresh_tokens() from public;
--! EndIncluded functions/auth.sql

-- Deviation 1 keeps users.password_hash NOT NULL: every user has a password row at commit.
create constraint trigger _900_require_password after insert on lms_public.users
  deferrable initially deferred for each row execute function lms_private.tg_users__require_password();

--------------------------------------------------------------------------------
-- updated_at, kept true by one shared trigger.
create trigger _100_set_updated_at before update on lms_public.users for each row execute function lms_private.tg__set_updated_at();
create trigger _100_set_updated_at before update on lms_public.courses for each row execute function lms_private.tg__set_updated_at();
create trigger _100_set_updated_at before update on lms_public.lessons for each row execute function lms_private.tg__set_updated_at();
create trigger _100_set_updated_at before update on lms_public.quizzes for each row execute function lms_private.tg__set_updated_at();
create trigger _100_set_updated_at before update on lms_public.subscriptions for each row execute function lms_private.tg__set_updated_at();
create trigger _100_set_updated_at before update on lms_public.payments for each row execute function lms_private.tg__set_updated_at();

--------------------------------------------------------------------------------
--! Included policies/identity.sql
-- Identity: users, their password rows and refresh tokens.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.users enable row level security;
alter table lms_private.user_passwords enable row level security;
alter table lms_private.refresh_tokens enable row level security;

revoke all on lms_public.users, lms_private.user_passwords, lms_private.refresh_tokens
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Users read their own row; admins read every row. Role and flags change only through
-- functions, so the only direct write is to one's own name and profile.
grant select on lms_public.users to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant update (full_name, profile_metadata) on lms_public.users to lms_student, lms_instructor, lms_admin;

drop policy if exists select_self_or_admin on lms_public.users;
create policy select_self_or_admin on lms_public.users for select
  using (id = lms_private.current_user_id() or lms_private.is_admin());

drop policy if exists update_self on lms_public.users;
create policy update_self on lms_public.users for update
  using (id = lms_private.current_user_id())
  with check (id = lms_private.current_user_id());

-- user_passwords and refresh_tokens: no visitor grant and no policy; only definer functions
-- owned by lms_owner touch them.
--! EndIncluded policies/identity.sql
--! Included policies/catalog.sql
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
--! EndIncluded policies/catalog.sql
--! Included policies/learning.sql
-- Learning: enrollments and lesson progress.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.enrollments enable row level security;
alter table lms_public.lesson_progress enable row level security;

revoke all on lms_public.enrollments, lms_public.lesson_progress
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- No grant and no policy yet: RLS denies every visitor until the Learning engine's rules.
--! EndIncluded policies/learning.sql
--! Included policies/quizzes.sql
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
--! EndIncluded policies/quizzes.sql
--! Included policies/certificates.sql
-- Certificates.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.certificates enable row level security;

revoke all on lms_public.certificates from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- No grant and no policy yet: RLS denies every visitor until the Certificates rules.
--! EndIncluded policies/certificates.sql
--! Included policies/files.sql
-- Uploaded files.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.uploaded_files enable row level security;

revoke all on lms_public.uploaded_files from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- No grant and no policy yet: RLS denies every visitor until the uploads rules.
--! EndIncluded policies/files.sql
--! Included policies/payments.sql
-- Payments: payments, subscriptions and Stripe webhook events.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.payments enable row level security;
alter table lms_public.subscriptions enable row level security;
alter table lms_private.payment_webhook_events enable row level security;

revoke all on lms_public.payments, lms_public.subscriptions, lms_private.payment_webhook_events
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- No grant and no policy yet: RLS denies every visitor until the Payments rules.
-- payment_webhook_events never gets a visitor grant: only the webhook route and worker write it.
--! EndIncluded policies/payments.sql
