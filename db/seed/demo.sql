-- Demo data for development: an admin, an instructor, two students and two published
-- courses with lessons of every type, nested in sections, a practice quiz and a graded one. Run as the owner by
-- `npm run db:seed` (and on the first start of an empty embedded database). Idempotent:
-- it does nothing once the demo admin exists. Never run in production (the API refuses).
-- Passwords are development-only and documented in the README.

do $$
declare
  v_admin uuid;
  v_teacher uuid;
  v_amal uuid;
  v_omar uuid;
  v_sql uuid;
  v_arabic uuid;
  v_section uuid;
  v_quiz_lesson uuid;
  v_quiz uuid;
  v_question uuid;
begin
  if exists (select from lms_public.users where email = 'admin@demo.coursebase.test') then
    return;
  end if;

  insert into lms_public.users (email, full_name, role, email_verified_at) values
    ('admin@demo.coursebase.test', 'Demo Admin', 'admin', now()) returning id into v_admin;
  insert into lms_public.users (email, full_name, role, email_verified_at) values
    ('instructor@demo.coursebase.test', 'Layla Haddad', 'instructor', now()) returning id into v_teacher;
  insert into lms_public.users (email, full_name, role, email_verified_at) values
    ('amal@demo.coursebase.test', 'أمل منصور', 'student', now()) returning id into v_amal;
  insert into lms_public.users (email, full_name, role, email_verified_at) values
    ('omar@demo.coursebase.test', 'Omar Farouk', 'student', now()) returning id into v_omar;
  insert into lms_private.user_passwords (user_id, password_hash) values
    (v_admin, lms_private.hash_password('demo-admin-password')),
    (v_teacher, lms_private.hash_password('demo-instructor-password')),
    (v_amal, lms_private.hash_password('demo-student-password')),
    (v_omar, lms_private.hash_password('demo-student-password'));

  insert into lms_public.courses (title, description, instructor_id, category, difficulty_level, estimated_duration_minutes)
  values ('SQL from First Principles', 'Tables, keys, joins and the rules that keep data true.', v_teacher, 'databases', 'beginner', 180)
  returning id into v_sql;
  insert into lms_public.lessons (course_id, title, lesson_type, is_preview, duration_minutes, video_url, content)
  values (v_sql, 'Welcome', 'video', true, 5, 'https://videos.example/sql/welcome.mp4', null);
  insert into lms_public.lessons (course_id, title, lesson_type, duration_minutes)
  values (v_sql, 'Part 1: Tables', 'text', null) returning id into v_section;
  insert into lms_public.lessons (course_id, parent_lesson_id, title, lesson_type, duration_minutes, content) values
    (v_sql, v_section, 'Rows and columns', 'text', 10, 'A table is a set of rows that share columns.'),
    (v_sql, v_section, 'Keys', 'video', 12, null),
    (v_sql, v_section, 'Design a table', 'assignment', 30, 'Design a table for a library''s loans.');
  update lms_public.lessons set video_url = 'https://videos.example/sql/keys.mp4' where course_id = v_sql and title = 'Keys';
  insert into lms_public.lessons (course_id, title, lesson_type, duration_minutes)
  values (v_sql, 'Check yourself', 'quiz', 10) returning id into v_quiz_lesson;
  insert into lms_public.quizzes (lesson_id, title, quiz_type, is_published, shuffle_questions)
  values (v_quiz_lesson, 'Warm-up questions', 'practice', true, false) returning id into v_quiz;
  insert into lms_public.quiz_questions (quiz_id, question_text, question_type, order_index, explanation)
  values (v_quiz, 'A primary key may contain NULL.', 'true_false', 0, 'A primary key is NOT NULL and unique.')
  returning id into v_question;
  insert into lms_private.quiz_answer_keys (question_id, correct_answer) values (v_question, '{"correct": false}');

  insert into lms_public.lessons (course_id, title, lesson_type, duration_minutes)
  values (v_sql, 'Final check', 'quiz', 15) returning id into v_quiz_lesson;
  insert into lms_public.quizzes (lesson_id, title, quiz_type, passing_score, max_attempts, time_limit_minutes, is_published)
  values (v_quiz_lesson, 'Final check', 'graded', 60, 3, 15, true) returning id into v_quiz;
  insert into lms_public.quiz_questions (quiz_id, question_text, question_type, order_index, options, explanation)
  values (v_quiz, 'Which of these are SQL set operations?', 'multiple_choice', 0,
          '[{"id": "union", "text": "UNION"}, {"id": "join", "text": "JOIN"}, {"id": "except", "text": "EXCEPT"}]',
          'UNION and EXCEPT combine result sets; JOIN combines rows.')
  returning id into v_question;
  insert into lms_private.quiz_answer_keys (question_id, correct_answer) values (v_question, '{"correct": ["union", "except"]}');
  insert into lms_public.quiz_questions (quiz_id, question_text, question_type, order_index, explanation)
  values (v_quiz, 'Name the clause that filters groups.', 'short_answer', 1, 'HAVING filters groups; WHERE filters rows.')
  returning id into v_question;
  insert into lms_private.quiz_answer_keys (question_id, correct_answer) values (v_question, '{"accepted": ["having", "having clause"]}');
  insert into lms_public.quiz_questions (quiz_id, question_text, question_type, order_index, points)
  values (v_quiz, 'Why do databases need transactions?', 'essay', 2, 2)
  returning id into v_question;
  insert into lms_private.quiz_answer_keys (question_id, correct_answer) values (v_question, '{}');
  update lms_public.courses set is_published = true where id = v_sql;

  insert into lms_public.courses (title, description, instructor_id, category, difficulty_level, price, currency, estimated_duration_minutes)
  values ('العربية للمبتدئين', 'Arabic for beginners: letters, sounds and first words.', v_teacher, 'languages', 'beginner', 0, 'EGP', 120)
  returning id into v_arabic;
  insert into lms_public.lessons (course_id, title, slug, lesson_type, is_preview, duration_minutes, content)
  values (v_arabic, 'الحروف', 'letters', 'text', true, 15, 'أ ب ت ث');
  insert into lms_public.lessons (course_id, title, slug, lesson_type, duration_minutes)
  values (v_arabic, 'Sounds', 'sounds', 'text', null) returning id into v_section;
  insert into lms_public.lessons (course_id, parent_lesson_id, title, slug, lesson_type, duration_minutes, video_url) values
    (v_arabic, v_section, 'Short vowels', 'short-vowels', 'video', 8, 'https://videos.example/arabic/vowels.mp4'),
    (v_arabic, v_section, 'Say it aloud', 'say-it-aloud', 'assignment', 10, null);
  update lms_public.courses set is_published = true where id = v_arabic;

  insert into lms_public.enrollments (student_id, course_id) values (v_amal, v_sql), (v_amal, v_arabic), (v_omar, v_sql);
  insert into lms_public.lesson_progress (enrollment_id, lesson_id, status, started_at, completed_at, last_accessed_at, completion_percentage)
  select e.id, l.id, 'completed', now() - interval '2 days', now() - interval '1 day', now() - interval '1 day', 100
  from lms_public.enrollments e join lms_public.lessons l on l.course_id = e.course_id
  where e.student_id = v_amal and e.course_id = v_arabic and (l.parent_lesson_id is not null or l.slug = 'letters');
  insert into lms_public.lesson_progress (enrollment_id, lesson_id, status, started_at, last_accessed_at, time_spent_seconds)
  select e.id, l.id, 'in_progress', now() - interval '1 hour', now() - interval '30 minutes', 600
  from lms_public.enrollments e join lms_public.lessons l on l.course_id = e.course_id and l.title = 'Welcome'
  where e.student_id = v_omar;
  update lms_public.enrollments set rating = 5, review = 'واضح ومفيد' where student_id = v_amal and course_id = v_arabic;
end
$$;
