-- Quizzes: the functions of authoring, answer keys, attempts, grading and regrading, and their
-- execute grants. Re-runnable: included by every migration that changes it.
--
-- Answer keys (lms_private.quiz_answer_keys.correct_answer) are JSON text, checked by
-- lms_private.answer_key_is_valid:
--   multiple_choice  {"correct": ["<option id>", ...]}   one or more ids of the question's options
--   true_false       {"correct": true | false}
--   short_answer     {"accepted": ["<text>", ...]}        matched trimmed and case-insensitively
--   essay            {}                                   graded by hand
-- Options (quiz_questions.options) are [{"id": "<stable id>", "text": "..."}] and never carry
-- correctness. Students' answers (quiz_attempts.answers) map question ids to: an array of option
-- ids (multiple_choice), a boolean (true_false) or a string (short_answer, essay).
--
-- Attempts: numbered 1, 2, 3… per enrollment and quiz under the enrollment's row lock, so
-- concurrent starts neither duplicate nor skip; at most one in progress; max_attempts enforced.
-- The attempt counted for the lesson is the best percentage. A completion already earned stays
-- earned, even if a regrade turns a pass into a fail.

select lms_private.begin_domain_functions();

--------------------------------------------------------------------------------
-- Validation.

create or replace function lms_private.answer_key_is_valid(p_question_type text, p_options jsonb, p_key text) returns boolean
  language plpgsql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_key jsonb;
begin
  if p_key is null then
    return p_question_type = 'essay';
  end if;
  begin
    v_key := p_key::jsonb;
  exception when others then
    return false;
  end;
  -- A missing member makes these comparisons null; null must read as invalid.
  return coalesce(case p_question_type
    when 'multiple_choice' then
      jsonb_typeof(v_key -> 'correct') = 'array' and jsonb_array_length(v_key -> 'correct') > 0
      and not exists (
        select from jsonb_array_elements(v_key -> 'correct') c
        where jsonb_typeof(c) <> 'string'
           or not exists (select from jsonb_array_elements(coalesce(p_options, '[]')) o where o ->> 'id' = c #>> '{}'))
    when 'true_false' then jsonb_typeof(v_key -> 'correct') = 'boolean'
    when 'short_answer' then
      jsonb_typeof(v_key -> 'accepted') = 'array' and jsonb_array_length(v_key -> 'accepted') > 0
      and not exists (select from jsonb_array_elements(v_key -> 'accepted') a where jsonb_typeof(a) <> 'string' or btrim(a #>> '{}') = '')
    when 'essay' then jsonb_typeof(v_key) = 'object'
    else false
  end, false);
end
$$;
comment on function lms_private.answer_key_is_valid(text, jsonb, text) is 'Whether an answer key is valid JSON of the documented shape for its question type and options.';

create or replace function lms_private.options_are_valid(p_question_type text, p_options jsonb) returns boolean
  language sql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
  -- coalesce: a CHECK passes on null, so missing options must be false, not null.
  select coalesce(case
    when p_question_type = 'multiple_choice' then
      jsonb_typeof(p_options) = 'array' and jsonb_array_length(p_options) >= 2
      and not exists (
        select from jsonb_array_elements(p_options) o
        where jsonb_typeof(o) <> 'object' or coalesce(o ->> 'id', '') = '' or coalesce(o ->> 'text', '') = ''
           or exists (select from jsonb_object_keys(o) k where k not in ('id', 'text')))
      and (select count(distinct o ->> 'id') from jsonb_array_elements(p_options) o) = jsonb_array_length(p_options)
    else p_options is null or p_options = 'null'::jsonb
  end, false)
$$;
comment on function lms_private.options_are_valid(text, jsonb) is 'Whether options are [{id, text}] with unique ids (two or more) for a multiple-choice question, and absent otherwise; no other keys, so no correctness flags.';

--------------------------------------------------------------------------------
-- Authoring.

create or replace function lms_private.quiz_course_id(p_quiz_id uuid) returns uuid
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select l.course_id from lms_public.quizzes q join lms_public.lessons l on l.id = q.lesson_id where q.id = p_quiz_id
$$;
comment on function lms_private.quiz_course_id(uuid) is 'The course a quiz belongs to.';

create or replace function lms_private.tg_quizzes__check_lesson() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if not exists (select from lms_public.lessons l where l.id = new.lesson_id and l.lesson_type = 'quiz') then
    raise exception using errcode = 'INVAL', message = 'a quiz belongs to a lesson of type quiz';
  end if;
  if new.passing_score < 0 or new.passing_score > 100 or coalesce(new.max_attempts, 1) < 1 or coalesce(new.time_limit_minutes, 1) < 1 then
    raise exception using errcode = 'INVAL', message = 'passing score is 0 to 100; max attempts and time limit are positive when set';
  end if;
  return new;
end
$$;
comment on function lms_private.tg_quizzes__check_lesson() is 'Trigger: a quiz belongs to a quiz-type lesson, with sane settings (INVAL).';

create or replace function lms_public.save_quiz_question(
  quiz_id uuid,
  question_text text,
  question_type text,
  answer_key jsonb,
  points numeric default 1,
  order_index integer default null,
  explanation text default null,
  options jsonb default null,
  question_id uuid default null
) returns lms_public.quiz_questions
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course_id uuid := lms_private.quiz_course_id(quiz_id);
  v_question lms_public.quiz_questions;
  v_key text := case when answer_key is null or answer_key = 'null'::jsonb then null else answer_key::text end;
begin
  if v_course_id is null then
    raise exception using errcode = 'NTFND', message = 'no such quiz';
  end if;
  perform lms_private.require_course_manager(v_course_id);
  if coalesce(points, 0) <= 0 then
    raise exception using errcode = 'INVAL', message = 'a question needs points above zero';
  end if;
  if question_type is null or question_type not in ('multiple_choice', 'true_false', 'short_answer', 'essay') then
    raise exception using errcode = 'INVAL', message = 'the question type must be multiple_choice, true_false, short_answer or essay';
  end if;
  if not lms_private.options_are_valid(question_type, options) then
    raise exception using errcode = 'INVAL', message = 'multiple-choice options are [{"id", "text"}] with unique ids, two or more; other types have none';
  end if;
  if question_type = 'essay' then
    v_key := '{}';
  end if;
  if not lms_private.answer_key_is_valid(question_type, options, v_key) then
    raise exception using errcode = 'INVAL', message = case question_type
      when 'multiple_choice' then 'the answer key must name one or more of the options as correct: {"correct": ["<option id>"]}'
      when 'true_false' then 'the answer key must be {"correct": true} or {"correct": false}'
      else 'the answer key must list one or more accepted answers: {"accepted": ["..."]}' end;
  end if;
  if question_id is null then
    insert into lms_public.quiz_questions (quiz_id, question_text, question_type, points, order_index, explanation, options)
    values (save_quiz_question.quiz_id, save_quiz_question.question_text, save_quiz_question.question_type, save_quiz_question.points,
            coalesce(save_quiz_question.order_index,
                     (select coalesce(max(q.order_index) + 1, 0) from lms_public.quiz_questions q where q.quiz_id = save_quiz_question.quiz_id)),
            save_quiz_question.explanation, save_quiz_question.options)
    returning * into v_question;
  else
    update lms_public.quiz_questions q set
      question_text = save_quiz_question.question_text, question_type = save_quiz_question.question_type,
      points = save_quiz_question.points, order_index = coalesce(save_quiz_question.order_index, q.order_index),
      explanation = save_quiz_question.explanation, options = save_quiz_question.options
    where q.id = save_quiz_question.question_id and q.quiz_id = save_quiz_question.quiz_id
    returning * into v_question;
    if v_question.id is null then
      raise exception using errcode = 'NTFND', message = 'no such question in this quiz';
    end if;
  end if;
  insert into lms_private.quiz_answer_keys (question_id, correct_answer) values (v_question.id, v_key)
  on conflict on constraint quiz_answer_keys_pkey do update set correct_answer = excluded.correct_answer;
  return v_question;
end
$$;
comment on function lms_public.save_quiz_question(uuid, text, text, jsonb, numeric, integer, text, jsonb, uuid) is E'@resultFieldName question\nCreates (no questionId) or replaces a question and its answer key, for the course''s instructor or an admin. Keys: multiple_choice {"correct": ["<option id>"]}, true_false {"correct": true}, short_answer {"accepted": ["..."]}, essay none. Refuses questions that cannot be graded (INVAL). Run regradeQuiz after changing a key or points.';

create or replace function lms_public.quiz_questions_answer_key(q lms_public.quiz_questions) returns jsonb
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  -- The stored question's quiz, not the argument's: a hand-made row must not pass for another.
  select k.correct_answer::jsonb from lms_private.quiz_answer_keys k
  join lms_public.quiz_questions stored on stored.id = k.question_id
  where k.question_id = q.id and lms_private.can_manage_course(lms_private.quiz_course_id(stored.quiz_id))
$$;
comment on function lms_public.quiz_questions_answer_key(lms_public.quiz_questions) is 'The question''s answer key, for the course''s instructor and admins only (null for anyone else).';

--------------------------------------------------------------------------------
-- Attempts.

create or replace function lms_private.quiz_grace() returns interval
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select make_interval(secs => lms_private.required_setting('lms.quiz_grace_seconds')::integer)
$$;
comment on function lms_private.quiz_grace() is 'How long after its deadline a submission is still accepted: lms.quiz_grace_seconds, which every caller sets (LMS_QUIZ_GRACE_SECONDS); raises when it is not set.';

create or replace function lms_private.attempts_left(p_quiz lms_public.quizzes, p_enrollment_id uuid) returns integer
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select case when p_quiz.max_attempts is null then null
              else greatest(0, p_quiz.max_attempts - (select count(*)::integer from lms_public.quiz_attempts a
                                                      where a.quiz_id = p_quiz.id and a.enrollment_id = p_enrollment_id)) end
$$;
comment on function lms_private.attempts_left(lms_public.quizzes, uuid) is 'Attempts an enrollment has left at a quiz; null when unlimited.';

create or replace function lms_public.start_quiz_attempt(quiz_id uuid) returns lms_public.quiz_attempts
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_quiz lms_public.quizzes;
  v_course_id uuid;
  v_enrollment_id uuid;
  v_attempt lms_public.quiz_attempts;
  v_order uuid[];
  v_option_orders jsonb;
begin
  select * into v_quiz from lms_public.quizzes q where q.id = start_quiz_attempt.quiz_id;
  v_course_id := lms_private.quiz_course_id(v_quiz.id);
  if v_quiz.id is null then
    raise exception using errcode = 'NTFND', message = 'no such quiz';
  end if;
  -- The enrollment's row lock serialises this student's starts: numbers never duplicate.
  select e.id into v_enrollment_id from lms_public.enrollments e
  where e.student_id = v_user_id and e.course_id = v_course_id and e.status in ('active', 'completed')
  for no key update;
  if v_enrollment_id is null then
    raise exception using errcode = 'FRBDN', message = 'enroll in the course first';
  end if;
  if not v_quiz.is_published then
    raise exception using errcode = 'NTFND', message = 'this quiz is not published';
  end if;
  select * into v_attempt from lms_public.quiz_attempts a
  where a.enrollment_id = v_enrollment_id and a.quiz_id = v_quiz.id and a.status = 'in_progress';
  if v_attempt.id is not null then
    if v_attempt.deadline_at is null or clock_timestamp() <= v_attempt.deadline_at + lms_private.quiz_grace() then
      return v_attempt;
    end if;
    perform lms_private.submit_attempt(v_attempt.id, null, true);
  end if;
  if lms_private.attempts_left(v_quiz, v_enrollment_id) = 0 then
    raise exception using errcode = 'ATMAX', message = format('no attempts left (the quiz allows %s)', v_quiz.max_attempts);
  end if;
  select array_agg(q.id order by case when v_quiz.shuffle_questions then random() end, q.order_index) into v_order
  from lms_public.quiz_questions q where q.quiz_id = v_quiz.id;
  select coalesce(jsonb_object_agg(q.id, (
           select jsonb_agg(o ->> 'id' order by case when v_quiz.shuffle_options then random() end, n)
           from jsonb_array_elements(q.options) with ordinality as x(o, n))), '{}')
    into v_option_orders
  from lms_public.quiz_questions q where q.quiz_id = v_quiz.id and q.question_type = 'multiple_choice';
  insert into lms_public.quiz_attempts (enrollment_id, quiz_id, attempt_number, started_at, deadline_at, question_order, option_orders, answers)
  values (v_enrollment_id, v_quiz.id,
          (select coalesce(max(a.attempt_number), 0) + 1 from lms_public.quiz_attempts a where a.enrollment_id = v_enrollment_id and a.quiz_id = v_quiz.id),
          now(), now() + make_interval(mins => v_quiz.time_limit_minutes), coalesce(v_order, '{}'), v_option_orders, '{}')
  returning * into v_attempt;
  if v_attempt.deadline_at is not null then
    perform lms_private.add_job('quiz_attempts__finalize', jsonb_build_object('attemptId', v_attempt.id),
      job_key => 'quiz_attempts__finalize:' || v_attempt.id, run_at => v_attempt.deadline_at + lms_private.quiz_grace());
  end if;
  return v_attempt;
end
$$;
comment on function lms_public.start_quiz_attempt(uuid) is E'@resultFieldName attempt\nStarts an attempt at a published quiz for the signed-in student (FRBDN when not enrolled, ATMAX when no attempts are left), or returns the one in progress. The question and option order is drawn once and kept; the deadline is the start plus the time limit.';

create or replace function lms_private.lock_attempt(p_attempt_id uuid) returns lms_public.quiz_attempts
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts;
begin
  -- Enrollment first, then the attempt: the order start_quiz_attempt and the progress rules follow.
  perform 1 from lms_public.enrollments e
  where e.id = (select a.enrollment_id from lms_public.quiz_attempts a where a.id = p_attempt_id)
  for no key update;
  select * into v_attempt from lms_public.quiz_attempts a where a.id = p_attempt_id for update;
  return v_attempt;
end
$$;
comment on function lms_private.lock_attempt(uuid) is 'Locks an attempt''s enrollment and then the attempt, in the order every writer follows, and returns the attempt.';

create or replace function lms_private.require_own_attempt(p_attempt_id uuid) returns lms_public.quiz_attempts
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_attempt lms_public.quiz_attempts;
begin
  v_attempt := lms_private.lock_attempt(p_attempt_id);
  if v_attempt.id is null
     or not exists (select from lms_public.enrollments e where e.id = v_attempt.enrollment_id and e.student_id = v_user_id) then
    raise exception using errcode = 'NTFND', message = 'no such attempt';
  end if;
  return v_attempt;
end
$$;
comment on function lms_private.require_own_attempt(uuid) is 'Locks and returns the signed-in student''s attempt (NTFND for anyone else''s).';

create or replace function lms_public.save_quiz_answers(attempt_id uuid, answers jsonb) returns lms_public.quiz_attempts
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts := lms_private.require_own_attempt(attempt_id);
begin
  if v_attempt.status <> 'in_progress' then
    raise exception using errcode = 'ATDON', message = 'this attempt was already submitted';
  end if;
  if v_attempt.deadline_at is not null and clock_timestamp() > v_attempt.deadline_at + lms_private.quiz_grace() then
    raise exception using errcode = 'ATLAT', message = 'the time limit has passed; the attempt is submitted with its saved answers';
  end if;
  if jsonb_typeof(coalesce(answers, 'null')) <> 'object' then
    raise exception using errcode = 'INVAL', message = 'answers are an object from question id to answer';
  end if;
  update lms_public.quiz_attempts a set answers = coalesce(a.answers, '{}') || save_quiz_answers.answers
  where a.id = v_attempt.id returning * into v_attempt;
  return v_attempt;
end
$$;
comment on function lms_public.save_quiz_answers(uuid, jsonb) is E'@resultFieldName attempt\nAutosaves answers ({"<question id>": answer}) into an attempt in progress, before its deadline (ATDON, ATLAT).';

create or replace function lms_private.auto_grade(p_question_type text, p_key text, p_answer jsonb) returns boolean
  language plpgsql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_key jsonb := p_key::jsonb;
begin
  if p_answer is null or p_answer = 'null'::jsonb then
    return false;
  end if;
  return case p_question_type
    when 'multiple_choice' then
      (select coalesce(array_agg(x order by x), '{}') from (select distinct jsonb_array_elements_text(
         case jsonb_typeof(p_answer) when 'array' then p_answer when 'string' then jsonb_build_array(p_answer) else '[]' end) as x) given)
      = (select array_agg(x order by x) from (select distinct jsonb_array_elements_text(v_key -> 'correct') as x) correct)
    when 'true_false' then jsonb_typeof(p_answer) = 'boolean' and p_answer = v_key -> 'correct'
    -- ICU lower-casing, so that case folding works beyond ASCII whatever the database's locale.
    when 'short_answer' then jsonb_typeof(p_answer) = 'string'
      and lower(btrim(p_answer #>> '{}', E' \t\r\n') collate "und-x-icu")
          in (select lower(btrim(a, E' \t\r\n') collate "und-x-icu") from jsonb_array_elements_text(v_key -> 'accepted') a)
    else false
  end;
end
$$;
comment on function lms_private.auto_grade(text, text, jsonb) is 'Whether an answer is right: the exact set of correct options (no extra, none missing), the boolean, or an accepted text after trimming whitespace and ignoring case (ICU, so accents fold too). No answer is wrong.';

create or replace function lms_private.finish_attempt(p_attempt_id uuid) returns lms_public.quiz_attempts
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts;
  v_quiz lms_public.quizzes;
  v_pending integer;
  v_score numeric;
  v_max numeric;
  v_percentage numeric;
begin
  v_attempt := lms_private.lock_attempt(p_attempt_id);
  select * into v_quiz from lms_public.quizzes where id = v_attempt.quiz_id;
  select count(*) into v_pending from lms_public.quiz_questions q
  where q.id = any(v_attempt.question_order) and q.question_type = 'essay'
    and not exists (select from lms_public.quiz_answer_grades g where g.attempt_id = v_attempt.id and g.question_id = q.id and g.points_awarded is not null);
  if v_pending > 0 then
    update lms_public.quiz_attempts set status = 'submitted', score = null, max_score = null, percentage = null, is_passed = null, graded_at = null
    where id = v_attempt.id returning * into v_attempt;
  else
    select coalesce(sum(least(g.points_awarded, q.points)), 0), coalesce(sum(q.points), 0) into v_score, v_max
    from lms_public.quiz_questions q
    left join lms_public.quiz_answer_grades g on g.attempt_id = v_attempt.id and g.question_id = q.id
    where q.id = any(v_attempt.question_order);
    v_percentage := case when v_max = 0 then 0 else round(100 * v_score / v_max, 2) end;
    update lms_public.quiz_attempts set
      status = 'graded', score = v_score, max_score = v_max, percentage = v_percentage,
      is_passed = v_percentage >= v_quiz.passing_score, graded_at = coalesce(graded_at, now())
    where id = v_attempt.id returning * into v_attempt;
  end if;

  -- The lesson: attempts counted, the best graded percentage, and completion on a graded pass
  -- (kept thereafter, even if a regrade lowers the scores).
  insert into lms_public.lesson_progress as p (enrollment_id, lesson_id, status, started_at, last_accessed_at, attempts_count, completion_percentage)
  values (v_attempt.enrollment_id, v_quiz.lesson_id, 'in_progress', v_attempt.started_at, now(), 0, 0)
  on conflict on constraint lesson_progress_enrollment_id_lesson_id_key do nothing;
  update lms_public.lesson_progress p set
    attempts_count = (select count(*) from lms_public.quiz_attempts a where a.enrollment_id = v_attempt.enrollment_id and a.quiz_id = v_quiz.id),
    completion_percentage = coalesce((select max(a.percentage) from lms_public.quiz_attempts a
                                      where a.enrollment_id = v_attempt.enrollment_id and a.quiz_id = v_quiz.id and a.status = 'graded'), 0),
    last_accessed_at = now(),
    status = case when v_quiz.quiz_type = 'graded' and v_attempt.is_passed then 'completed' else p.status end,
    completed_at = case when v_quiz.quiz_type = 'graded' and v_attempt.is_passed then coalesce(p.completed_at, now()) else p.completed_at end
  where p.enrollment_id = v_attempt.enrollment_id and p.lesson_id = v_quiz.lesson_id;
  return v_attempt;
end
$$;
comment on function lms_private.finish_attempt(uuid) is 'Totals a submitted attempt: still submitted while an essay awaits a grade; otherwise graded, with score, percentage and pass, and a graded pass completes the quiz''s lesson.';

create or replace function lms_private.submit_attempt(p_attempt_id uuid, p_answers jsonb, p_overdue boolean) returns lms_public.quiz_attempts
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts;
  v_answers jsonb;
begin
  v_attempt := lms_private.lock_attempt(p_attempt_id);
  if v_attempt.status <> 'in_progress' then
    return v_attempt;
  end if;
  v_answers := coalesce(v_attempt.answers, '{}') || coalesce(p_answers, '{}');
  update lms_public.quiz_attempts set
    answers = v_answers,
    submitted_at = case when p_overdue then least(clock_timestamp(), deadline_at + lms_private.quiz_grace()) else clock_timestamp() end,
    time_taken_seconds = greatest(0, extract(epoch from (case when p_overdue then least(clock_timestamp(), deadline_at) else clock_timestamp() end) - started_at))::integer,
    status = 'submitted'
  where id = v_attempt.id;
  insert into lms_public.quiz_answer_grades (attempt_id, question_id, points_awarded, is_correct, graded_at)
  select v_attempt.id, q.id,
         case when lms_private.auto_grade(q.question_type, k.correct_answer, v_answers -> q.id::text) then q.points else 0 end,
         lms_private.auto_grade(q.question_type, k.correct_answer, v_answers -> q.id::text), now()
  from lms_public.quiz_questions q join lms_private.quiz_answer_keys k on k.question_id = q.id
  where q.id = any(v_attempt.question_order) and q.question_type <> 'essay'
  on conflict on constraint quiz_answer_grades_attempt_id_question_id_key do nothing;
  return lms_private.finish_attempt(v_attempt.id);
end
$$;
comment on function lms_private.submit_attempt(uuid, jsonb, boolean) is 'Submits an attempt and grades what can be graded at once; an overdue attempt is finalised with its saved answers.';

create or replace function lms_public.submit_quiz_attempt(attempt_id uuid, answers jsonb default null) returns lms_public.quiz_attempts
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts := lms_private.require_own_attempt(attempt_id);
begin
  if v_attempt.status <> 'in_progress' then
    raise exception using errcode = 'ATDON', message = 'this attempt was already submitted';
  end if;
  if answers is not null and jsonb_typeof(answers) <> 'object' then
    raise exception using errcode = 'INVAL', message = 'answers are an object from question id to answer';
  end if;
  if v_attempt.deadline_at is not null and clock_timestamp() > v_attempt.deadline_at + lms_private.quiz_grace() then
    raise exception using errcode = 'ATLAT', message = 'the time limit has passed; the attempt is submitted with its saved answers';
  end if;
  return lms_private.submit_attempt(v_attempt.id, answers, false);
end
$$;
comment on function lms_public.submit_quiz_attempt(uuid, jsonb) is E'@resultFieldName attempt\nSubmits an attempt (with final answers, merged over the saved ones) and grades it: graded at once without essays; submitted, awaiting the instructor, with essays. Refused after the deadline plus the grace period (ATLAT) or twice (ATDON).';

create or replace function lms_private.finalize_overdue_attempt(p_attempt_id uuid) returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts;
begin
  v_attempt := lms_private.lock_attempt(p_attempt_id);
  if v_attempt.id is null or v_attempt.status <> 'in_progress' then
    return 'nothing to do';
  end if;
  if v_attempt.deadline_at is null or clock_timestamp() <= v_attempt.deadline_at + lms_private.quiz_grace() then
    return 'not yet due';
  end if;
  return (lms_private.submit_attempt(v_attempt.id, null, true)).status;
end
$$;
comment on function lms_private.finalize_overdue_attempt(uuid) is 'Submits an attempt past its deadline (plus grace) with its saved answers; run by the quiz_attempts__finalize job queued at the deadline, and by the periodic sweep.';

create or replace function lms_private.finalize_overdue_attempts() returns integer
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
  v_count integer := 0;
begin
  for v_id in
    select a.id from lms_public.quiz_attempts a
    where a.status = 'in_progress' and a.deadline_at + lms_private.quiz_grace() < clock_timestamp()
    order by a.enrollment_id, a.id
  loop
    perform lms_private.finalize_overdue_attempt(v_id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
comment on function lms_private.finalize_overdue_attempts() is 'The periodic sweep: finalises every attempt past its deadline, in case a scheduled job was lost.';

--------------------------------------------------------------------------------
-- What a student sees of their attempt.

-- Replaced when its attributes change, with the functions below that use it (see common.sql).
select lms_private.define_composite_type('lms_public.attempt_question', $$
  question_id uuid,
  position integer,
  question_text text,
  question_type varchar(50),
  points numeric(5, 2),
  options jsonb,
  answer jsonb,
  points_awarded numeric(6, 2),
  feedback text,
  correct_answer jsonb,
  explanation text
$$);
comment on type lms_public.attempt_question is 'A question as the student sees it in their attempt: never the key, unless the quiz reveals it.';
comment on column lms_public.attempt_question.question_id is 'The question.';
comment on column lms_public.attempt_question.position is 'Its place in this attempt (1, 2, …), drawn once when shuffling.';
comment on column lms_public.attempt_question.question_text is 'The question.';
comment on column lms_public.attempt_question.question_type is 'multiple_choice, true_false, short_answer or essay.';
comment on column lms_public.attempt_question.points is 'Points it is worth.';
comment on column lms_public.attempt_question.options is 'The choices [{id, text}] in this attempt''s order, without correctness.';
comment on column lms_public.attempt_question.answer is 'The student''s saved or submitted answer.';
comment on column lms_public.attempt_question.points_awarded is 'Points earned, once the attempt is graded: for an essay always, for other questions under the same condition as the answer key, since they would tell right from wrong.';
comment on column lms_public.attempt_question.feedback is 'The instructor''s feedback on an essay, once graded.';
comment on column lms_public.attempt_question.correct_answer is 'The answer key, only once graded, when the quiz shows correct answers and the student has passed or has no attempts left.';
comment on column lms_public.attempt_question.explanation is 'The explanation, under the same condition as the answer key.';

create or replace function lms_private.reveals_answers(p_attempt lms_public.quiz_attempts) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  -- Only after a pass or the last attempt: otherwise a throwaway attempt would harvest the key.
  select p_attempt.status = 'graded' and q.show_correct_answers
     and not exists (select from lms_public.quiz_attempts open where open.enrollment_id = p_attempt.enrollment_id
                     and open.quiz_id = q.id and open.status = 'in_progress')
     and (exists (select from lms_public.quiz_attempts a where a.enrollment_id = p_attempt.enrollment_id and a.quiz_id = q.id and a.is_passed)
          or lms_private.attempts_left(q, p_attempt.enrollment_id) = 0)
  from lms_public.quizzes q where q.id = p_attempt.quiz_id
$$;
comment on function lms_private.reveals_answers(lms_public.quiz_attempts) is 'Whether a graded attempt may show its answer keys: the quiz shows correct answers, no attempt is in progress, and the student passed it or has no attempts left.';

create or replace function lms_public.quiz_attempts_questions(a lms_public.quiz_attempts) returns setof lms_public.attempt_question
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  with attempt as (
    select at.* from lms_public.quiz_attempts at join lms_public.enrollments e on e.id = at.enrollment_id
    where at.id = a.id and (e.student_id = lms_private.current_user_id() or lms_private.can_manage_course(e.course_id))
  ), reveal as (
    select lms_private.reveals_answers(attempt) or lms_private.can_manage_course(lms_private.quiz_course_id(attempt.quiz_id)) as yes from attempt
  )
  select q.id, o.position::integer, q.question_text, q.question_type, q.points,
         case when q.question_type = 'multiple_choice' then (
           select jsonb_agg(opt order by ord.n)
           from jsonb_array_elements_text(attempt.option_orders -> q.id::text) with ordinality as ord(option_id, n)
           join jsonb_array_elements(q.options) opt on opt ->> 'id' = ord.option_id) end,
         attempt.answers -> q.id::text,
         -- An automatic question's points would tell right from wrong: they follow the reveal rule.
         case when attempt.status = 'graded' and (q.question_type = 'essay' or (select yes from reveal)) then g.points_awarded end,
         case when attempt.status = 'graded' then g.feedback end,
         case when (select yes from reveal) then k.correct_answer::jsonb end,
         case when (select yes from reveal) then q.explanation end
  from attempt
  cross join lateral unnest(attempt.question_order) with ordinality as o(question_id, position)
  join lms_public.quiz_questions q on q.id = o.question_id
  left join lms_private.quiz_answer_keys k on k.question_id = q.id
  left join lms_public.quiz_answer_grades g on g.attempt_id = attempt.id and g.question_id = q.id
  order by o.position
$$;
comment on function lms_public.quiz_attempts_questions(lms_public.quiz_attempts) is E'@behavior -connection +list\n@listSuffix omit\nThe attempt''s questions in its order, for its student (and the course''s instructor): no key and no explanation unless the quiz reveals them.';

--------------------------------------------------------------------------------
-- Manual grading and regrading.

create or replace function lms_public.grading_queue() returns setof lms_public.quiz_attempts
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select a.* from lms_public.quiz_attempts a join lms_public.enrollments e on e.id = a.enrollment_id
  where a.status = 'submitted' and lms_private.can_manage_course(e.course_id)
  order by a.submitted_at, a.id
$$;
comment on function lms_public.grading_queue() is 'Attempts awaiting a grade (an essay) in the courses the signed-in instructor teaches, oldest first; every course for admins.';

create or replace function lms_public.grade_essay(attempt_id uuid, question_id uuid, points numeric, feedback text default null) returns lms_public.quiz_attempts
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts;
  v_question lms_public.quiz_questions;
begin
  v_attempt := lms_private.lock_attempt(grade_essay.attempt_id);
  if v_attempt.id is null then
    raise exception using errcode = 'NTFND', message = 'no such attempt';
  end if;
  perform lms_private.require_course_manager(lms_private.quiz_course_id(v_attempt.quiz_id));
  select * into v_question from lms_public.quiz_questions q
  where q.id = grade_essay.question_id and q.id = any(v_attempt.question_order) and q.question_type = 'essay';
  if v_question.id is null then
    raise exception using errcode = 'NTFND', message = 'no such essay question in this attempt';
  end if;
  if v_attempt.status = 'in_progress' then
    raise exception using errcode = 'INVAL', message = 'the attempt is still in progress';
  end if;
  if points is null or points < 0 or points > v_question.points then
    raise exception using errcode = 'INVAL', message = format('points must be from 0 to %s', v_question.points);
  end if;
  insert into lms_public.quiz_answer_grades (attempt_id, question_id, points_awarded, feedback, graded_by, graded_at)
  values (v_attempt.id, v_question.id, points, feedback, lms_private.current_user_id(), now())
  on conflict on constraint quiz_answer_grades_attempt_id_question_id_key do update
    set points_awarded = excluded.points_awarded, feedback = excluded.feedback, graded_by = excluded.graded_by, graded_at = excluded.graded_at;
  return lms_private.finish_attempt(v_attempt.id);
end
$$;
comment on function lms_public.grade_essay(uuid, uuid, numeric, text) is E'@resultFieldName attempt\nGrades one essay of a submitted attempt (points from 0 to the question''s, optional feedback), for the course''s instructor or an admin. The last essay graded makes the attempt graded, with its totals.';

create or replace function lms_public.regrade_quiz(quiz_id uuid) returns integer
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
  v_count integer := 0;
begin
  perform lms_private.require_course_manager(lms_private.quiz_course_id(quiz_id));
  for v_id in
    select a.id from lms_public.quiz_attempts a where a.quiz_id = regrade_quiz.quiz_id and a.status in ('submitted', 'graded')
    order by a.enrollment_id, a.id
  loop
    perform lms_private.lock_attempt(v_id);
    -- Automatic grades are recomputed from the stored answers; essay grades are the instructor's and stay.
    insert into lms_public.quiz_answer_grades as g (attempt_id, question_id, points_awarded, is_correct, graded_at)
    select v_id, q.id,
           case when lms_private.auto_grade(q.question_type, k.correct_answer, a.answers -> q.id::text) then q.points else 0 end,
           lms_private.auto_grade(q.question_type, k.correct_answer, a.answers -> q.id::text), now()
    from lms_public.quiz_attempts a
    join lms_public.quiz_questions q on q.id = any(a.question_order) and q.question_type <> 'essay'
    join lms_private.quiz_answer_keys k on k.question_id = q.id
    where a.id = v_id
    on conflict on constraint quiz_answer_grades_attempt_id_question_id_key do update
      set points_awarded = excluded.points_awarded, is_correct = excluded.is_correct, graded_at = excluded.graded_at;
    update lms_public.quiz_attempts set graded_at = null where id = v_id and status = 'graded';
    perform lms_private.finish_attempt(v_id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
comment on function lms_public.regrade_quiz(uuid) is E'@resultFieldName regradedAttempts\nRecomputes every submitted attempt''s automatic grades from its stored answers with the current keys and points, keeping the essay grades, and returns how many attempts were regraded. A completion already earned stays earned, even if a pass becomes a fail.';

create or replace function lms_private.answer_key_shape_is_valid(p_key text) returns boolean
  language plpgsql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_key jsonb;
begin
  if p_key is null then
    return true;
  end if;
  begin
    v_key := p_key::jsonb;
  exception when others then
    return false;
  end;
  return jsonb_typeof(v_key) = 'object' and (
    v_key = '{}'::jsonb
    or (v_key ?& array['correct'] and (select count(*) from jsonb_object_keys(v_key)) = 1
        and jsonb_typeof(v_key -> 'correct') in ('array', 'boolean'))
    or (v_key ?& array['accepted'] and (select count(*) from jsonb_object_keys(v_key)) = 1
        and jsonb_typeof(v_key -> 'accepted') = 'array'));
end
$$;
comment on function lms_private.answer_key_shape_is_valid(text) is 'CHECK of quiz_answer_keys.correct_answer: JSON of one of the documented shapes ({"correct": [...]}, {"correct": true|false}, {"accepted": [...]}, {}).';

--------------------------------------------------------------------------------
-- Execute grants. Everything not named here runs only inside definer functions or triggers.

select lms_private.grant_domain_functions(
  everyone => array['start_quiz_attempt', 'save_quiz_answers', 'submit_quiz_attempt'],
  signed_in => array['quiz_attempts_questions', 'quiz_questions_answer_key', 'options_are_valid', 'answer_key_shape_is_valid'],
  teachers => array['save_quiz_question', 'grading_queue', 'grade_essay', 'regrade_quiz', 'tg_quizzes__check_lesson']
);
