-- Learning: the functions of enrollment and lesson progress, whose derived numbers are kept true
-- at every commit, and their execute grants. Re-runnable: included by every migration that changes it.
--
-- Invariants of an enrollment, after every statement that touches its progress or its
-- course's lessons (lms_private.recalculate_enrollment):
--   total_lessons_count      = the course's counting lessons
--   completed_lessons_count  = its completed lesson_progress rows for lessons that still count
--   progress_percentage      = round(100 * completed / total, 2), 0 when total is 0, never above 100
--   total_time_spent_seconds = the sum over its lesson_progress
--   started_at / last_accessed_at = the first / latest activity
--   status becomes 'completed' (and completed_at is set, once) when every counting lesson is
--   complete; a completion already earned stays earned when new lessons arrive.
--
-- Locking: an operation locks the lesson (KEY SHARE), then its enrollment row (NO KEY UPDATE),
-- then writes progress. A change to a course's lessons takes the course's content lock
-- (exclusive; enroll takes it shared) and recalculates every enrollment of the course,
-- locking them in id order. One order everywhere: no deadlocks, no lost updates.

select lms_private.begin_domain_functions();

create or replace function lms_private.recalculate_enrollments(p_course_id uuid, p_enrollment_id uuid default null) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- A change to the course's lessons excludes enrollments in progress (see lms_public.enroll),
  -- so that no new enrollment misses it.
  if p_enrollment_id is null then
    perform pg_advisory_xact_lock(hashtext('lms:course-content:' || p_course_id));
  end if;
  -- Lock first, in id order (the order every writer follows); then read in a new statement,
  -- so that progress committed while we waited is counted.
  perform 1 from lms_public.enrollments e
  where e.course_id = p_course_id and (p_enrollment_id is null or e.id = p_enrollment_id)
  order by e.id for no key update;
  with counting as (
    select id from lms_private.counting_lesson_ids(p_course_id) as c(id)
  ), facts as (
    select e.id,
           (select count(*) from counting)::integer as total,
           count(p.id) filter (where p.status = 'completed' and p.lesson_id in (select id from counting))::integer as completed,
           coalesce(sum(p.time_spent_seconds), 0)::integer as time_spent,
           min(p.started_at) as started,
           max(greatest(p.last_accessed_at, p.started_at, p.completed_at)) as last_access
    from lms_public.enrollments e
    left join lms_public.lesson_progress p on p.enrollment_id = e.id
    where e.course_id = p_course_id and (p_enrollment_id is null or e.id = p_enrollment_id)
    group by e.id
  ), target as (
    select f.*, case when e.status = 'active' and f.total > 0 and f.completed = f.total then 'completed' else e.status end as status
    from facts f join lms_public.enrollments e on e.id = f.id
  )
  update lms_public.enrollments e set
    total_lessons_count = t.total,
    completed_lessons_count = t.completed,
    progress_percentage = case when t.total = 0 then 0 else round(100.0 * t.completed / t.total, 2) end,
    total_time_spent_seconds = t.time_spent,
    started_at = t.started,
    last_accessed_at = t.last_access,
    status = t.status,
    completed_at = case when t.status = 'completed' then coalesce(e.completed_at, now()) else e.completed_at end
  from target t
  where e.id = t.id
    and (e.total_lessons_count, e.completed_lessons_count, e.total_time_spent_seconds, e.started_at, e.last_accessed_at, e.status)
        is distinct from (t.total, t.completed, t.time_spent, t.started, t.last_access, t.status);
end
$$;
comment on function lms_private.recalculate_enrollments(uuid, uuid) is 'Brings a course''s enrollments (or one of them) back to their invariants in one set-based statement, under their row locks taken in id order. One enrollment costs O(lessons of the course).';

create or replace function lms_private.recalculate_enrollment(p_enrollment_id uuid) returns void
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.recalculate_enrollments(e.course_id, e.id) from lms_public.enrollments e where e.id = p_enrollment_id
$$;
comment on function lms_private.recalculate_enrollment(uuid) is 'Brings one enrollment back to its invariants.';

create or replace function lms_private.recalculate_course_enrollments(p_course_id uuid) returns void
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.recalculate_enrollments(p_course_id)
$$;
comment on function lms_private.recalculate_course_enrollments(uuid) is 'Recalculates every enrollment of a course at once; run when the course''s lessons change.';

-- One statement trigger function per table, for INSERT, UPDATE and DELETE: a trigger with
-- transition tables has one event, and PL/pgSQL plans only the branch its event takes.

create or replace function lms_private.tg_lesson_progress__recalculate() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_ids uuid[];
  v_id uuid;
begin
  if tg_op = 'INSERT' then
    select array_agg(distinct enrollment_id) into v_ids from new_rows;
  elsif tg_op = 'DELETE' then
    select array_agg(distinct enrollment_id) into v_ids from old_rows;
  else
    select array_agg(distinct x.enrollment_id) into v_ids
    from (select enrollment_id from new_rows union select enrollment_id from old_rows) x;
  end if;
  for v_id in select unnest(v_ids) order by 1 loop
    perform lms_private.recalculate_enrollment(v_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_lesson_progress__recalculate() is 'Statement trigger: recalculates the enrollments whose progress rows were inserted, updated or deleted.';

create or replace function lms_private.tg_lessons__recalculate_courses() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_ids uuid[];
  v_id uuid;
begin
  if tg_op = 'INSERT' then
    select array_agg(distinct course_id) into v_ids from new_rows;
  elsif tg_op = 'DELETE' then
    select array_agg(distinct course_id) into v_ids from old_rows;
  else
    -- Titles, bodies and order do not change what counts; archiving, sections and types do.
    select array_agg(distinct x.course_id) into v_ids from (
      select n.course_id from new_rows n join old_rows o on o.id = n.id
      where (n.archived_at, n.parent_lesson_id, n.lesson_type) is distinct from (o.archived_at, o.parent_lesson_id, o.lesson_type)
      union
      select o.course_id from new_rows n join old_rows o on o.id = n.id
      where o.parent_lesson_id is distinct from n.parent_lesson_id
    ) x;
  end if;
  for v_id in select unnest(v_ids) order by 1 loop
    perform lms_private.recalculate_course_enrollments(v_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_lessons__recalculate_courses() is 'Statement trigger: when lessons are added, deleted, archived, moved under a section or change type, every enrollment of their courses is recalculated.';

create or replace function lms_private.tg_quizzes__recalculate_courses() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lesson_ids uuid[];
  v_id uuid;
begin
  if tg_op = 'INSERT' then
    select array_agg(lesson_id) into v_lesson_ids from new_rows;
  elsif tg_op = 'DELETE' then
    select array_agg(lesson_id) into v_lesson_ids from old_rows;
  else
    -- Only a change of type or of lesson changes what counts.
    select array_agg(x.lesson_id) into v_lesson_ids from (
      select n.lesson_id from new_rows n join old_rows o on o.id = n.id
      where (n.quiz_type, n.lesson_id) is distinct from (o.quiz_type, o.lesson_id)
      union
      select o.lesson_id from new_rows n join old_rows o on o.id = n.id where n.lesson_id <> o.lesson_id
    ) x;
  end if;
  for v_id in select distinct l.course_id from lms_public.lessons l where l.id = any(v_lesson_ids) order by 1 loop
    perform lms_private.recalculate_course_enrollments(v_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_quizzes__recalculate_courses() is 'Statement trigger: a quiz added, removed or switched between practice and graded changes whether its lesson counts.';

--------------------------------------------------------------------------------
-- Enrollment.

create or replace function lms_public.enroll(course_id uuid) returns lms_public.enrollments
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_course lms_public.courses;
  v_enrollment lms_public.enrollments;
  v_access record; -- lms_public.course_access_decision, defined after this file
begin
  -- Shared with other enrollments, exclusive of lesson changes: a lesson added meanwhile is counted.
  perform pg_advisory_xact_lock_shared(hashtext('lms:course-content:' || enroll.course_id));
  select * into v_course from lms_public.courses c where c.id = enroll.course_id;
  select * into v_enrollment from lms_public.enrollments e
  where e.student_id = v_user_id and e.course_id = enroll.course_id for no key update;
  -- The access rule (functions/payments.sql) decides; the enrollment records its decision.
  v_access := lms_private.course_access_of(v_user_id, enroll.course_id);
  if v_enrollment.id is not null and v_enrollment.status in ('active', 'completed') and v_access.has_access then
    perform lms_private.apply_course_access(v_enrollment.id);
    select * into v_enrollment from lms_public.enrollments e where e.id = v_enrollment.id;
    return v_enrollment;
  end if;
  if v_course.id is null or not v_course.is_published then
    raise exception using errcode = 'NTFND', message = 'no such course in the catalog';
  end if;
  if not v_access.has_access then
    raise exception using errcode = 'PAYRQ', message = case v_access.reason
      when 'refunded' then format('your payment for this course was refunded: it costs %s %s', v_course.price, v_course.currency)
      when 'subscription_ended' then format('your subscription no longer covers this course: it costs %s %s', v_course.price, v_course.currency)
      else format('this course costs %s %s: pay for it to enroll', v_course.price, v_course.currency) end;
  end if;
  if v_enrollment.id is null then
    -- A concurrent enroll may have inserted first: then use its row.
    insert into lms_public.enrollments (student_id, course_id) values (v_user_id, v_course.id)
    on conflict on constraint enrollments_student_id_course_id_key do nothing
    returning * into v_enrollment;
    if v_enrollment.id is null then
      select * into v_enrollment from lms_public.enrollments e where e.student_id = v_user_id and e.course_id = v_course.id;
    end if;
  else
    update lms_public.enrollments e set status = 'active' where e.id = v_enrollment.id;
  end if;
  perform lms_private.apply_course_access(v_enrollment.id);
  perform lms_private.recalculate_enrollment(v_enrollment.id);
  select * into v_enrollment from lms_public.enrollments e where e.id = v_enrollment.id;
  return v_enrollment;
end
$$;
comment on function lms_public.enroll(uuid) is E'@resultFieldName enrollment\nEnrolls the signed-in user in a published course they may enter (see courseAccess): a free course, one they bought, or one their subscription grants. PAYRQ without access, NTFND for a course not in the catalog. Enrolling again returns the enrollment; after dropping it, or after it expired and access came back, the same enrollment becomes active again, with its progress. The enrollment records the payment or subscription that justifies it.';

create or replace function lms_public.drop_course(course_id uuid) returns lms_public.enrollments
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_enrollment lms_public.enrollments;
begin
  select * into v_enrollment from lms_public.enrollments e
  where e.student_id = v_user_id and e.course_id = drop_course.course_id for no key update;
  if v_enrollment.id is null then
    raise exception using errcode = 'NTFND', message = 'you are not enrolled in this course';
  end if;
  if v_enrollment.status = 'completed' then
    raise exception using errcode = 'INVAL', message = 'a completed course cannot be dropped';
  end if;
  update lms_public.enrollments e set status = 'dropped' where e.id = v_enrollment.id returning * into v_enrollment;
  return v_enrollment;
end
$$;
comment on function lms_public.drop_course(uuid) is E'@resultFieldName enrollment\nDrops the signed-in user''s active enrollment in a course; enrolling again reactivates it.';

--------------------------------------------------------------------------------
-- Progress.

create or replace function lms_private.lock_progress(p_lesson_id uuid)
  returns table (enrollment_id uuid, lesson lms_public.lessons)
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_lesson lms_public.lessons;
  v_enrollment_id uuid;
begin
  -- Lesson first, then enrollment: the order every writer follows.
  select * into v_lesson from lms_public.lessons l where l.id = p_lesson_id for key share;
  if v_lesson.id is null or v_lesson.archived_at is not null then
    raise exception using errcode = 'NTFND', message = 'no such lesson';
  end if;
  select e.id into v_enrollment_id from lms_public.enrollments e
  where e.student_id = v_user_id and e.course_id = v_lesson.course_id and e.status in ('active', 'completed')
  for no key update;
  if v_enrollment_id is null then
    raise exception using errcode = 'FRBDN', message = 'enroll in the course first';
  end if;
  -- The enrollment follows the access rule, but a lapse that no event announced reaches it only
  -- with the sweep: ask the rule itself.
  if not (lms_private.course_access_of(v_user_id, v_lesson.course_id)).has_access then
    raise exception using errcode = 'PAYRQ', message = 'your access to this course has ended';
  end if;
  if exists (select from lms_public.lessons c where c.parent_lesson_id = v_lesson.id and c.archived_at is null) then
    raise exception using errcode = 'INVAL', message = 'this lesson is a section; work on its lessons';
  end if;
  return query select v_enrollment_id, v_lesson;
end
$$;
comment on function lms_private.lock_progress(uuid) is 'Checks that the signed-in user may work on a lesson (NTFND, FRBDN, PAYRQ when the access rule says their access ended, INVAL for a section) and locks it and their enrollment, in that order.';

create or replace function lms_public.start_lesson(lesson_id uuid) returns lms_public.lesson_progress
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lock record;
  v_progress lms_public.lesson_progress;
begin
  select * into v_lock from lms_private.lock_progress(start_lesson.lesson_id);
  insert into lms_public.lesson_progress as p (enrollment_id, lesson_id, status, started_at, last_accessed_at)
  values (v_lock.enrollment_id, start_lesson.lesson_id, 'in_progress', now(), now())
  on conflict on constraint lesson_progress_enrollment_id_lesson_id_key do update
    set status = case when p.status = 'not_started' then 'in_progress' else p.status end,
        started_at = coalesce(p.started_at, now()),
        last_accessed_at = now()
  returning * into v_progress;
  return v_progress;
end
$$;
comment on function lms_public.start_lesson(uuid) is E'@resultFieldName lessonProgress\nMarks a lesson started for the signed-in student (FRBDN when not enrolled).';

create or replace function lms_public.record_lesson_progress(lesson_id uuid, position_seconds integer, seconds_spent integer) returns lms_public.lesson_progress
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lock record;
  v_progress lms_public.lesson_progress;
  v_position integer;
  v_since_last integer;
  v_spent integer;
begin
  if position_seconds is null or seconds_spent is null or position_seconds < 0 or seconds_spent < 0 then
    raise exception using errcode = 'INVAL', message = 'position and time spent must be zero or more seconds';
  end if;
  select * into v_lock from lms_private.lock_progress(record_lesson_progress.lesson_id);
  v_position := case when (v_lock.lesson).duration_minutes is null then position_seconds
                     else least(position_seconds, (v_lock.lesson).duration_minutes * 60) end;
  select * into v_progress from lms_public.lesson_progress p
  where p.enrollment_id = v_lock.enrollment_id and p.lesson_id = record_lesson_progress.lesson_id;
  -- No more time than has passed since the last heartbeat (or the start).
  -- Whole seconds, rounded down: rapid heartbeats must not each earn a second.
  v_since_last := coalesce(floor(extract(epoch from clock_timestamp() - coalesce(v_progress.last_accessed_at, v_progress.started_at)))::integer, 0);
  v_spent := least(seconds_spent, greatest(v_since_last, 0));
  insert into lms_public.lesson_progress as p (enrollment_id, lesson_id, status, started_at, last_accessed_at, last_position_seconds, time_spent_seconds, completion_percentage)
  values (v_lock.enrollment_id, record_lesson_progress.lesson_id, 'in_progress', now(), clock_timestamp(), v_position, v_spent,
          case when (v_lock.lesson).duration_minutes > 0 then least(100, round(100.0 * v_position / ((v_lock.lesson).duration_minutes * 60), 2)) else 0 end)
  on conflict on constraint lesson_progress_enrollment_id_lesson_id_key do update
    set status = case when p.status = 'not_started' then 'in_progress' else p.status end,
        started_at = coalesce(p.started_at, now()),
        last_accessed_at = clock_timestamp(),
        last_position_seconds = excluded.last_position_seconds,
        time_spent_seconds = p.time_spent_seconds + excluded.time_spent_seconds,
        completion_percentage = greatest(p.completion_percentage, excluded.completion_percentage)
  returning * into v_progress;
  return v_progress;
end
$$;
comment on function lms_public.record_lesson_progress(uuid, integer, integer) is E'@resultFieldName lessonProgress\nA heartbeat while a student works on a lesson: the position is clamped to the lesson''s duration, and the time spent to the wall-clock time since the previous heartbeat. Negative values are refused (INVAL).';

create or replace function lms_public.complete_lesson(lesson_id uuid) returns lms_public.lesson_progress
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lock record;
  v_progress lms_public.lesson_progress;
  v_min_percent smallint;
  v_required integer;
begin
  select * into v_lock from lms_private.lock_progress(complete_lesson.lesson_id);
  if (v_lock.lesson).lesson_type = 'quiz' then
    raise exception using errcode = 'INVAL', message = 'a quiz lesson is completed by passing its graded quiz';
  end if;
  if (v_lock.lesson).lesson_type = 'video' and (v_lock.lesson).duration_minutes > 0 then
    select c.min_video_watch_percent into v_min_percent from lms_public.courses c where c.id = (v_lock.lesson).course_id;
    v_required := ceil((v_lock.lesson).duration_minutes * 60 * v_min_percent / 100.0);
    select * into v_progress from lms_public.lesson_progress p
    where p.enrollment_id = v_lock.enrollment_id and p.lesson_id = complete_lesson.lesson_id;
    -- Both, because each alone is cheap to fake: a seek moves the position without watching, and a
    -- paused tab left open earns time without getting anywhere. A completion already earned stands.
    if v_progress.status is distinct from 'completed'
       and (coalesce(v_progress.time_spent_seconds, 0) < v_required or coalesce(v_progress.completion_percentage, 0) < v_min_percent) then
      raise exception using errcode = 'WATCH',
        message = format('watch at least %s%% of this video first: %s of the %s seconds needed watched, furthest position %s%%',
                         v_min_percent, coalesce(v_progress.time_spent_seconds, 0), v_required, coalesce(v_progress.completion_percentage, 0));
    end if;
  end if;
  insert into lms_public.lesson_progress as p (enrollment_id, lesson_id, status, started_at, completed_at, last_accessed_at, completion_percentage)
  values (v_lock.enrollment_id, complete_lesson.lesson_id, 'completed', now(), now(), now(), 100)
  on conflict on constraint lesson_progress_enrollment_id_lesson_id_key do update
    set status = 'completed',
        started_at = coalesce(p.started_at, now()),
        completed_at = coalesce(p.completed_at, now()),
        last_accessed_at = now(),
        completion_percentage = 100
  returning * into v_progress;
  return v_progress;
end
$$;
comment on function lms_public.complete_lesson(uuid) is E'@resultFieldName lessonProgress\nCompletes a video, text or assignment lesson for the signed-in student; the enrollment''s progress follows in the same transaction. A video with a duration needs its course''s `minVideoWatchPercent` of it watched first, as recorded by `recordLessonProgress`: that share of its duration in time spent, and a furthest position at least that far (WATCH).';

create or replace function lms_public.enrollments_has_new_content(e lms_public.enrollments) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select e.status = 'completed' and e.completed_lessons_count < e.total_lessons_count
$$;
comment on function lms_public.enrollments_has_new_content(lms_public.enrollments) is 'True when the course gained lessons after this enrollment was completed: the completion stands, and the percentage shows what is new.';

create or replace function lms_public.enrollments_student_name(e lms_public.enrollments) returns text
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select u.full_name::text from lms_public.enrollments en join lms_public.users u on u.id = en.student_id
  where en.id = e.id
    and (en.student_id = lms_private.current_user_id() or lms_private.can_manage_course(en.course_id))
$$;
comment on function lms_public.enrollments_student_name(lms_public.enrollments) is 'The enrolled student''s name, for the student and the course''s instructor (not their email).';

--------------------------------------------------------------------------------
-- Execute grants. Everything not named here runs only inside definer functions or triggers.

select lms_private.grant_domain_functions(
  everyone => array['enroll', 'drop_course', 'start_lesson', 'record_lesson_progress', 'complete_lesson',
    'enrollments_has_new_content', 'enrollments_student_name']
);
