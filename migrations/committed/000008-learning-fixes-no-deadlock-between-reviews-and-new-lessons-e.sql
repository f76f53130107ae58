--! Previous: sha1:349791ff15938c0043f257a3030b27711da368b8
--! Hash: sha1:0897465294576999e6b87f380c2baefab236181f
--! Message: learning fixes: no deadlock between reviews and new lessons, enrollments never miss a lesson change, honest heartbeats, sections with archived lessons, one slug lock

-- Found by the concurrency and invariant tests (test/db/learning):
-- - a review locked the course FOR UPDATE after its enrollment, while a new lesson held the
--   course (KEY SHARE, its foreign key) and wanted the enrollments: now NO KEY UPDATE;
-- - an enrollment made while a lesson change was uncommitted kept the old total: enroll and
--   lesson changes now share a per-course lock (shared for enroll, exclusive for changes);
-- - heartbeats rounded elapsed time up, so rapid heartbeats each earned a second;
-- - a section whose lessons were all archived could not be removed (their parent key);
-- - generated slugs were locked per base, and "intro" and "intro-2" are different bases.
--! Included functions/catalog.sql
-- Catalog: courses, lessons, the public syllabus, publishing, reordering, reviews.
-- Re-runnable: included by every migration that changes it.
--
-- Which lessons count toward completion (lms_private.lesson_counts):
--   a lesson counts when it is not archived, has no live children (a parent is a section),
--   and is not a quiz lesson whose quiz is a practice quiz.
-- Publishing needs at least one counting lesson, and every counting quiz lesson needs a
-- published graded quiz.

--------------------------------------------------------------------------------
-- Who may see and change what: small definer helpers for the policies (no recursion).

create or replace function lms_private.my_taught_course_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(c.id), '{}') from lms_public.courses c where c.instructor_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_taught_course_ids() is 'Ids of the courses the signed-in user teaches.';

create or replace function lms_private.my_entitled_course_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(e.course_id), '{}') from lms_public.enrollments e
  where e.student_id = lms_private.current_user_id() and e.status in ('active', 'completed')
$$;
comment on function lms_private.my_entitled_course_ids() is 'Ids of the courses the signed-in user is enrolled in (active or completed): their lessons are theirs to read, published or not.';

create or replace function lms_private.can_manage_course(p_course_id uuid) returns boolean
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.is_admin()
      or exists (select from lms_public.courses c where c.id = p_course_id and c.instructor_id = lms_private.current_user_id())
$$;
comment on function lms_private.can_manage_course(uuid) is 'Whether the signed-in user is the course''s instructor or an admin.';

create or replace function lms_private.require_course_manager(p_course_id uuid) returns void
  language plpgsql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform lms_private.require_user();
  if not exists (select from lms_public.courses c where c.id = p_course_id) then
    raise exception using errcode = 'NTFND', message = 'no such course';
  end if;
  if not lms_private.can_manage_course(p_course_id) then
    raise exception using errcode = 'FRBDN', message = 'only the course''s instructor or an admin may do this';
  end if;
end
$$;
comment on function lms_private.require_course_manager(uuid) is 'Raises NOAUT, NTFND or FRBDN unless the signed-in user manages the course.';

--------------------------------------------------------------------------------
-- Slugs.

create or replace function lms_private.slugify(p_text text) returns text
  language sql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(nullif(left(btrim(regexp_replace(lower(coalesce(p_text, '')), '[^a-z0-9]+', '-', 'g'), '-'), 200), ''), 'untitled')
$$;
comment on function lms_private.slugify(text) is 'Lowercase-kebab form of a title: runs of anything but a-z and 0-9 become one hyphen.';

create or replace function lms_private.tg_courses__defaults() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_base text;
  v_candidate text;
  v_suffix integer := 1;
begin
  if tg_op = 'INSERT' and new.instructor_id is null then
    new.instructor_id := lms_private.current_user_id();
  end if;
  if tg_op = 'UPDATE' and new.slug is not distinct from old.slug then
    return new;
  end if;
  if nullif(btrim(coalesce(new.slug, '')), '') is not null then
    if new.slug !~ '^[a-z0-9]+(-[a-z0-9]+)*$' then
      raise exception using errcode = 'INVAL', message = 'the slug must be lowercase-kebab: a-z, 0-9 and single hyphens';
    end if;
    return new;
  end if;
  v_base := lms_private.slugify(new.title);
  -- Serialise slug generation: "intro" and "intro-2" are different bases that can meet.
  perform pg_advisory_xact_lock(hashtext('lms_public.courses.slug'));
  v_candidate := v_base;
  while exists (select from lms_public.courses c where c.slug = v_candidate and c.id <> new.id) loop
    v_suffix := v_suffix + 1;
    v_candidate := v_base || '-' || v_suffix;
  end loop;
  new.slug := v_candidate;
  return new;
end
$$;
comment on function lms_private.tg_courses__defaults() is 'Trigger: a new course''s instructor defaults to the signed-in user; generates a unique slug from the title when none is given (suffix -2, -3… on collision), and validates a given one as lowercase-kebab (INVAL).';

create or replace function lms_private.tg_lessons__defaults() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if nullif(btrim(coalesce(new.slug, '')), '') is null then
    new.slug := lms_private.slugify(new.title);
  elsif new.slug !~ '^[a-z0-9]+(-[a-z0-9]+)*$' then
    raise exception using errcode = 'INVAL', message = 'the slug must be lowercase-kebab: a-z, 0-9 and single hyphens';
  end if;
  if new.order_index is null then
    perform pg_advisory_xact_lock(hashtext('lms_public.lessons.order:' || new.course_id));
    select coalesce(max(l.order_index) + 1, 0) into new.order_index from lms_public.lessons l where l.course_id = new.course_id;
  end if;
  return new;
end
$$;
comment on function lms_private.tg_lessons__defaults() is 'Trigger: a lesson''s slug defaults to its title''s, and its order_index to the end of the course.';

--------------------------------------------------------------------------------
-- Lesson structure.

create or replace function lms_private.tg_lessons__check_parent() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'UPDATE' and new.course_id <> old.course_id then
    raise exception using errcode = 'INVAL', message = 'a lesson cannot move to another course';
  end if;
  if new.parent_lesson_id is null then
    return new;
  end if;
  if not exists (select from lms_public.lessons p where p.id = new.parent_lesson_id and p.course_id = new.course_id) then
    raise exception using errcode = 'INVAL', message = 'the parent lesson must belong to the same course';
  end if;
  if exists (
    with recursive ancestors(id) as (
      select new.parent_lesson_id
      union
      select p.parent_lesson_id from lms_public.lessons p join ancestors a on p.id = a.id where p.parent_lesson_id is not null
    )
    select from ancestors where id = new.id
  ) then
    raise exception using errcode = 'INVAL', message = 'a lesson cannot be its own ancestor';
  end if;
  return new;
end
$$;
comment on function lms_private.tg_lessons__check_parent() is 'Trigger: a parent lesson belongs to the same course, the parent chain has no cycle, and lessons do not change course (INVAL).';

create or replace function lms_private.lesson_counts(p_lesson lms_public.lessons) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select p_lesson.archived_at is null
     and not exists (select from lms_public.lessons c where c.parent_lesson_id = p_lesson.id and c.archived_at is null)
     and not exists (select from lms_public.quizzes q where q.lesson_id = p_lesson.id and q.quiz_type = 'practice')
$$;
comment on function lms_private.lesson_counts(lms_public.lessons) is 'Whether a lesson counts toward completion: not archived, not a section with live children, not a practice-quiz lesson.';

create or replace function lms_private.counting_lesson_ids(p_course_id uuid) returns setof uuid
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select l.id from lms_public.lessons l where l.course_id = p_course_id and lms_private.lesson_counts(l)
$$;
comment on function lms_private.counting_lesson_ids(uuid) is 'The lessons of a course that count toward completion; O(lessons of the course).';

create or replace function lms_public.lessons_counts_toward_completion(l lms_public.lessons) returns boolean
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.lesson_counts(l)
$$;
comment on function lms_public.lessons_counts_toward_completion(lms_public.lessons) is 'Whether this lesson counts toward course completion (not archived, not a section, not a practice quiz).';

--------------------------------------------------------------------------------
-- The public syllabus.

do $$
begin
  if not exists (select from pg_type where typname = 'syllabus_entry' and typnamespace = 'lms_public'::regnamespace) then
    create type lms_public.syllabus_entry as (
      id uuid,
      title varchar(255),
      slug varchar(255),
      lesson_type varchar(50),
      order_index integer,
      parent_lesson_id uuid,
      duration_minutes integer,
      is_preview boolean,
      counts_toward_completion boolean
    );
  end if;
end
$$;
comment on type lms_public.syllabus_entry is 'A lesson as the public sees it in a course''s syllabus: no content, no video URL.';
comment on column lms_public.syllabus_entry.id is 'The lesson''s id.';
comment on column lms_public.syllabus_entry.title is 'The lesson''s title.';
comment on column lms_public.syllabus_entry.slug is 'The lesson''s slug.';
comment on column lms_public.syllabus_entry.lesson_type is 'video, text, quiz or assignment.';
comment on column lms_public.syllabus_entry.order_index is 'Position in the course.';
comment on column lms_public.syllabus_entry.parent_lesson_id is 'The section it sits in.';
comment on column lms_public.syllabus_entry.duration_minutes is 'How long the lesson takes.';
comment on column lms_public.syllabus_entry.is_preview is 'Whether anyone may read its body.';
comment on column lms_public.syllabus_entry.counts_toward_completion is 'Whether it counts toward completion.';

create or replace function lms_public.courses_syllabus(c lms_public.courses) returns setof lms_public.syllabus_entry
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select l.id, l.title, l.slug, l.lesson_type, l.order_index, l.parent_lesson_id, l.duration_minutes, l.is_preview,
         lms_private.lesson_counts(l)
  from lms_public.courses course
  join lms_public.lessons l on l.course_id = course.id
  where course.id = c.id
    and l.archived_at is null
    and (course.is_published or lms_private.can_manage_course(course.id) or course.id = any(lms_private.my_entitled_course_ids()))
  order by l.order_index
$$;
comment on function lms_public.courses_syllabus(lms_public.courses) is E'@behavior -connection +list\n@listSuffix omit\nThe course''s syllabus, in order: titles, types, durations, preview flags and sections, for anyone who can see the course. Lesson bodies are on lessons, for those entitled to them.';

create or replace function lms_public.courses_instructor_name(c lms_public.courses) returns text
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select u.full_name::text from lms_public.courses course join lms_public.users u on u.id = course.instructor_id
  where course.id = c.id
    and (course.is_published or lms_private.can_manage_course(course.id) or course.id = any(lms_private.my_entitled_course_ids()))
$$;
comment on function lms_public.courses_instructor_name(lms_public.courses) is 'The instructor''s name, public with the course; nothing else about them is.';

--------------------------------------------------------------------------------
-- Publishing, reordering, removing.

create or replace function lms_public.publish_course(course_id uuid) returns lms_public.courses
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course lms_public.courses;
  v_lesson record;
begin
  perform lms_private.require_course_manager(course_id);
  select * into v_course from lms_public.courses c where c.id = publish_course.course_id for no key update;
  if not exists (select from lms_private.counting_lesson_ids(v_course.id)) then
    raise exception using errcode = 'INVAL', message = 'a course needs at least one lesson that counts toward completion before it is published';
  end if;
  select l.title into v_lesson
  from lms_public.lessons l
  where l.id in (select lms_private.counting_lesson_ids(v_course.id)) and l.lesson_type = 'quiz'
    and not exists (select from lms_public.quizzes q where q.lesson_id = l.id and q.quiz_type = 'graded' and q.is_published)
  limit 1;
  if found then
    raise exception using errcode = 'INVAL', message = format('the quiz lesson "%s" needs a published graded quiz', v_lesson.title);
  end if;
  update lms_public.courses c set is_published = true where c.id = v_course.id returning * into v_course;
  return v_course;
end
$$;
comment on function lms_public.publish_course(uuid) is E'@resultFieldName course\nPublishes a course (its instructor or an admin). It needs a counting lesson, and every counting quiz lesson needs a published graded quiz (INVAL).';

create or replace function lms_public.unpublish_course(course_id uuid) returns lms_public.courses
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course lms_public.courses;
begin
  perform lms_private.require_course_manager(course_id);
  update lms_public.courses c set is_published = false where c.id = unpublish_course.course_id returning * into v_course;
  return v_course;
end
$$;
comment on function lms_public.unpublish_course(uuid) is E'@resultFieldName course\nTakes a course out of the catalog. Enrolled students keep their access.';

create or replace function lms_public.reorder_lessons(course_id uuid, lesson_ids uuid[]) returns setof lms_public.lessons
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_live uuid[];
begin
  perform lms_private.require_course_manager(course_id);
  perform 1 from lms_public.courses c where c.id = reorder_lessons.course_id for no key update;
  select coalesce(array_agg(l.id order by l.id), '{}') into v_live
  from lms_public.lessons l where l.course_id = reorder_lessons.course_id and l.archived_at is null;
  if lesson_ids is null or cardinality(lesson_ids) <> cardinality(v_live)
     or (select array_agg(x order by x) from (select distinct unnest(lesson_ids) as x) ids) is distinct from v_live then
    raise exception using errcode = 'INVAL', message = 'give every lesson of the course that is not archived, each once, in the new order';
  end if;
  -- The unique key is deferrable: a permutation passes through duplicate indexes mid-statement.
  set constraints lms_public.lessons_course_id_order_index_key deferred;
  update lms_public.lessons l set order_index = o.position - 1
  from unnest(lesson_ids) with ordinality as o(id, position)
  where l.id = o.id and l.order_index <> o.position - 1;
  -- Archived lessons keep their relative order, after the live ones.
  update lms_public.lessons l set order_index = cardinality(lesson_ids) + a.rank - 1
  from (select l2.id, row_number() over (order by l2.order_index) as rank
        from lms_public.lessons l2 where l2.course_id = reorder_lessons.course_id and l2.archived_at is not null) a
  where l.id = a.id;
  set constraints lms_public.lessons_course_id_order_index_key immediate;
  return query select * from lms_public.lessons l where l.course_id = reorder_lessons.course_id order by l.order_index;
end
$$;
comment on function lms_public.reorder_lessons(uuid, uuid[]) is E'@resultFieldName lessons\nPuts a course''s lessons in the given order, atomically: the list must hold every lesson that is not archived, once (INVAL).';

create or replace function lms_public.remove_lesson(lesson_id uuid) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lesson lms_public.lessons;
begin
  select * into v_lesson from lms_public.lessons l where l.id = remove_lesson.lesson_id for update;
  if v_lesson.id is null then
    raise exception using errcode = 'NTFND', message = 'no such lesson';
  end if;
  perform lms_private.require_course_manager(v_lesson.course_id);
  if exists (select from lms_public.lessons c where c.parent_lesson_id = v_lesson.id and c.archived_at is null) then
    raise exception using errcode = 'INVAL', message = 'the section still has lessons; remove or move them first';
  end if;
  delete from lms_public.lessons l where l.id = v_lesson.id;
  return case when exists (select from lms_public.lessons l where l.id = v_lesson.id) then 'archived' else 'deleted' end;
end
$$;
comment on function lms_public.remove_lesson(uuid) is E'@resultFieldName outcome\nRemoves a lesson: deleted when nobody has worked on it, otherwise archived (it stops counting and leaves the syllabus, and progress and grades stay). Returns deleted or archived.';

create or replace function lms_private.tg_lessons__archive_instead_of_delete() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- Archived children still point at their section, so a section with any child is archived too.
  if exists (select from lms_public.lesson_progress p where p.lesson_id = old.id)
     or exists (select from lms_public.quiz_attempts a join lms_public.quizzes q on q.id = a.quiz_id where q.lesson_id = old.id)
     or exists (select from lms_public.lessons c where c.parent_lesson_id = old.id) then
    update lms_public.lessons set archived_at = coalesce(archived_at, now()) where id = old.id;
    return null;
  end if;
  return old;
end
$$;
comment on function lms_private.tg_lessons__archive_instead_of_delete() is 'Trigger: a lesson with progress, quiz attempts or (archived) children is archived instead of deleted, so that the cascades cannot destroy grades.';

--------------------------------------------------------------------------------
-- Reviews: a course's public rating, kept by a trigger.

create or replace function lms_private.refresh_course_rating(p_course_id uuid) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- Lock first, then read in a new statement: a concurrent review committed while we waited is counted.
  -- NO KEY UPDATE: it does not conflict with the KEY SHARE that a new lesson's foreign key takes.
  perform 1 from lms_public.courses c where c.id = p_course_id for no key update;
  update lms_public.courses c
  set average_rating = r.average, review_count = r.reviews
  from (select round(avg(e.rating), 2) as average, count(e.rating)::integer as reviews
        from lms_public.enrollments e where e.course_id = p_course_id) r
  where c.id = p_course_id
    and (c.average_rating is distinct from r.average or c.review_count is distinct from r.reviews);
end
$$;
comment on function lms_private.refresh_course_rating(uuid) is 'Recomputes a course''s average rating and review count from its enrollments.';

create or replace function lms_private.tg_enrollments__refresh_course_rating() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'DELETE' then
    perform lms_private.refresh_course_rating(old.course_id);
  elsif tg_op = 'INSERT' or new.rating is distinct from old.rating then
    perform lms_private.refresh_course_rating(new.course_id);
  end if;
  return null;
end
$$;
comment on function lms_private.tg_enrollments__refresh_course_rating() is 'Trigger: keeps courses.average_rating and review_count true when a rating changes.';

create or replace function lms_private.tg_enrollments__check_review() returns trigger
  language plpgsql
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if (new.rating is distinct from old.rating or new.review is distinct from old.review)
     and old.status not in ('active', 'completed') then
    raise exception using errcode = 'FRBDN', message = 'only students with an active or completed enrollment may review the course';
  end if;
  return new;
end
$$;
comment on function lms_private.tg_enrollments__check_review() is 'Trigger: ratings and reviews come from active or completed enrollments only.';

create or replace function lms_private.my_enrollment_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(e.id), '{}') from lms_public.enrollments e where e.student_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_enrollment_ids() is 'Ids of the signed-in user''s own enrollments, whatever their status.';
--! EndIncluded functions/catalog.sql
--! Included functions/progress.sql
-- Enrollment and progress: the derived numbers are kept true at every commit.
-- Re-runnable: included by every migration that changes it.
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

create or replace function lms_private.tg_lesson_progress__recalculate() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
begin
  for v_id in
    select distinct x.enrollment_id from (
      select enrollment_id from new_rows
      union all
      select enrollment_id from old_rows
    ) x order by 1
  loop
    perform lms_private.recalculate_enrollment(v_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_lesson_progress__recalculate() is 'Statement trigger: recalculates the enrollments whose progress rows changed.';

create or replace function lms_private.tg_lesson_progress__recalculate_insert() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
begin
  for v_id in select distinct enrollment_id from new_rows order by 1 loop
    perform lms_private.recalculate_enrollment(v_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_lesson_progress__recalculate_insert() is 'Statement trigger: recalculates the enrollments that gained progress rows.';

create or replace function lms_private.tg_lesson_progress__recalculate_delete() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
begin
  for v_id in select distinct enrollment_id from old_rows order by 1 loop
    perform lms_private.recalculate_enrollment(v_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_lesson_progress__recalculate_delete() is 'Statement trigger: recalculates the enrollments that lost progress rows.';

create or replace function lms_private.tg_lessons__recalculate_courses() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course_id uuid;
begin
  -- Titles, bodies and order do not change what counts; archiving, sections and types do.
  for v_course_id in
    select distinct n.course_id from new_rows n join old_rows o on o.id = n.id
    where (n.archived_at, n.parent_lesson_id, n.lesson_type) is distinct from (o.archived_at, o.parent_lesson_id, o.lesson_type)
    union
    select o.course_id from new_rows n join old_rows o on o.id = n.id
    where o.parent_lesson_id is distinct from n.parent_lesson_id
    order by 1
  loop
    perform lms_private.recalculate_course_enrollments(v_course_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_lessons__recalculate_courses() is 'Statement trigger: when lessons change (added, archived, moved under a section), every enrollment of their courses is recalculated.';

create or replace function lms_private.tg_lessons__recalculate_courses_insert() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course_id uuid;
begin
  for v_course_id in select distinct course_id from new_rows order by 1 loop
    perform lms_private.recalculate_course_enrollments(v_course_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_lessons__recalculate_courses_insert() is 'Statement trigger: a new lesson changes every enrollment of its course.';

create or replace function lms_private.tg_lessons__recalculate_courses_delete() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course_id uuid;
begin
  for v_course_id in select distinct course_id from old_rows order by 1 loop
    perform lms_private.recalculate_course_enrollments(v_course_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_lessons__recalculate_courses_delete() is 'Statement trigger: a deleted lesson changes every enrollment of its course.';

create or replace function lms_private.tg_quizzes__recalculate_courses() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course_id uuid;
begin
  for v_course_id in
    select distinct l.course_id from lms_public.lessons l
    where l.id in (select n.lesson_id from new_rows n join old_rows o on o.id = n.id
                   where (n.quiz_type, n.lesson_id) is distinct from (o.quiz_type, o.lesson_id)
                   union select o.lesson_id from new_rows n join old_rows o on o.id = n.id where n.lesson_id <> o.lesson_id)
    order by 1
  loop
    perform lms_private.recalculate_course_enrollments(v_course_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_quizzes__recalculate_courses() is 'Statement trigger: a quiz turning practice or graded changes whether its lesson counts.';

create or replace function lms_private.tg_quizzes__recalculate_courses_insert() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course_id uuid;
begin
  for v_course_id in
    select distinct l.course_id from lms_public.lessons l where l.id in (select lesson_id from new_rows) order by 1
  loop
    perform lms_private.recalculate_course_enrollments(v_course_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_quizzes__recalculate_courses_insert() is 'Statement trigger: a new practice quiz stops its lesson counting.';

create or replace function lms_private.tg_quizzes__recalculate_courses_delete() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course_id uuid;
begin
  for v_course_id in
    select distinct l.course_id from lms_public.lessons l where l.id in (select lesson_id from old_rows) order by 1
  loop
    perform lms_private.recalculate_course_enrollments(v_course_id);
  end loop;
  return null;
end
$$;
comment on function lms_private.tg_quizzes__recalculate_courses_delete() is 'Statement trigger: a removed practice quiz makes its lesson count again.';

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
begin
  -- Shared with other enrollments, exclusive of lesson changes: a lesson added meanwhile is counted.
  perform pg_advisory_xact_lock_shared(hashtext('lms:course-content:' || enroll.course_id));
  select * into v_course from lms_public.courses c where c.id = enroll.course_id;
  select * into v_enrollment from lms_public.enrollments e
  where e.student_id = v_user_id and e.course_id = enroll.course_id for no key update;
  if v_enrollment.id is not null and v_enrollment.status in ('active', 'completed') then
    return v_enrollment;
  end if;
  if v_course.id is null or not v_course.is_published then
    raise exception using errcode = 'NTFND', message = 'no such course in the catalog';
  end if;
  if v_course.price > 0 then
    raise exception using errcode = 'PAYRQ', message = format('this course costs %s %s: pay for it to enroll', v_course.price, v_course.currency);
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
  perform lms_private.recalculate_enrollment(v_enrollment.id);
  select * into v_enrollment from lms_public.enrollments e where e.id = v_enrollment.id;
  return v_enrollment;
end
$$;
comment on function lms_public.enroll(uuid) is E'@resultFieldName enrollment\nEnrolls the signed-in user in a published free course (PAYRQ for a paid one, NTFND for a course not in the catalog). Enrolling again returns the enrollment; after dropping it, the same enrollment becomes active again, with its progress.';

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
  if exists (select from lms_public.lessons c where c.parent_lesson_id = v_lesson.id and c.archived_at is null) then
    raise exception using errcode = 'INVAL', message = 'this lesson is a section; work on its lessons';
  end if;
  return query select v_enrollment_id, v_lesson;
end
$$;
comment on function lms_private.lock_progress(uuid) is 'Checks that the signed-in user may work on a lesson (NTFND, FRBDN, INVAL for a section) and locks it and their enrollment, in that order.';

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
begin
  select * into v_lock from lms_private.lock_progress(complete_lesson.lesson_id);
  if (v_lock.lesson).lesson_type = 'quiz' then
    raise exception using errcode = 'INVAL', message = 'a quiz lesson is completed by passing its graded quiz';
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
comment on function lms_public.complete_lesson(uuid) is E'@resultFieldName lessonProgress\nCompletes a video, text or assignment lesson for the signed-in student; the enrollment''s progress follows in the same transaction.';

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
--! EndIncluded functions/progress.sql
--! Included functions/quizzes.sql
-- Quizzes: authoring, answer keys, attempts, grading, regrading.
-- Re-runnable: included by every migration that changes it.
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
  return case p_question_type
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
  end;
end
$$;
comment on function lms_private.answer_key_is_valid(text, jsonb, text) is 'Whether an answer key is valid JSON of the documented shape for its question type and options.';

create or replace function lms_private.options_are_valid(p_question_type text, p_options jsonb) returns boolean
  language sql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
  select case
    when p_question_type = 'multiple_choice' then
      jsonb_typeof(p_options) = 'array' and jsonb_array_length(p_options) >= 2
      and not exists (
        select from jsonb_array_elements(p_options) o
        where jsonb_typeof(o) <> 'object' or coalesce(o ->> 'id', '') = '' or coalesce(o ->> 'text', '') = ''
           or exists (select from jsonb_object_keys(o) k where k not in ('id', 'text')))
      and (select count(distinct o ->> 'id') from jsonb_array_elements(p_options) o) = jsonb_array_length(p_options)
    else p_options is null or p_options = 'null'::jsonb
  end
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
  select k.correct_answer::jsonb from lms_private.quiz_answer_keys k
  where k.question_id = q.id and lms_private.can_manage_course(lms_private.quiz_course_id(q.quiz_id))
$$;
comment on function lms_public.quiz_questions_answer_key(lms_public.quiz_questions) is 'The question''s answer key, for the course''s instructor and admins only (null for anyone else).';

--------------------------------------------------------------------------------
-- Attempts.

create or replace function lms_private.quiz_grace() returns interval
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select make_interval(secs => coalesce(nullif(current_setting('lms.quiz_grace_seconds', true), '')::integer, 30))
$$;
comment on function lms_private.quiz_grace() is 'How long after its deadline a submission is still accepted (LMS_QUIZ_GRACE_SECONDS, 30 by default).';

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

create or replace function lms_private.require_own_attempt(p_attempt_id uuid) returns lms_public.quiz_attempts
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_attempt lms_public.quiz_attempts;
begin
  select a.* into v_attempt from lms_public.quiz_attempts a join lms_public.enrollments e on e.id = a.enrollment_id
  where a.id = p_attempt_id and e.student_id = lms_private.require_user()
  for update of a;
  if v_attempt.id is null then
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
    when 'short_answer' then jsonb_typeof(p_answer) = 'string'
      and lower(btrim(p_answer #>> '{}')) in (select lower(btrim(a)) from jsonb_array_elements_text(v_key -> 'accepted') a)
    else false
  end;
end
$$;
comment on function lms_private.auto_grade(text, text, jsonb) is 'Whether an answer is right: the exact set of correct options (no extra, none missing), the boolean, or an accepted text after trimming and ignoring case. No answer is wrong.';

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
  v_lesson_id uuid;
begin
  select * into v_attempt from lms_public.quiz_attempts where id = p_attempt_id for update;
  select * into v_quiz from lms_public.quizzes where id = v_attempt.quiz_id;
  select count(*) into v_pending from lms_public.quiz_questions q
  where q.id = any(v_attempt.question_order) and q.question_type = 'essay'
    and not exists (select from lms_public.quiz_answer_grades g where g.attempt_id = v_attempt.id and g.question_id = q.id and g.points_awarded is not null);
  if v_pending > 0 then
    update lms_public.quiz_attempts set status = 'submitted', score = null, max_score = null, percentage = null, is_passed = null, graded_at = null
    where id = v_attempt.id returning * into v_attempt;
    return v_attempt;
  end if;
  select coalesce(sum(least(g.points_awarded, q.points)), 0), coalesce(sum(q.points), 0) into v_score, v_max
  from lms_public.quiz_questions q
  left join lms_public.quiz_answer_grades g on g.attempt_id = v_attempt.id and g.question_id = q.id
  where q.id = any(v_attempt.question_order);
  v_percentage := case when v_max = 0 then 0 else round(100 * v_score / v_max, 2) end;
  update lms_public.quiz_attempts set
    status = 'graded', score = v_score, max_score = v_max, percentage = v_percentage,
    is_passed = v_percentage >= v_quiz.passing_score, graded_at = coalesce(graded_at, now())
  where id = v_attempt.id returning * into v_attempt;

  -- The lesson: attempts counted, the best percentage, and completion on a graded pass (kept thereafter).
  v_lesson_id := v_quiz.lesson_id;
  insert into lms_public.lesson_progress as p (enrollment_id, lesson_id, status, started_at, last_accessed_at, attempts_count, completion_percentage)
  values (v_attempt.enrollment_id, v_lesson_id, 'in_progress', v_attempt.started_at, now(), 0, 0)
  on conflict on constraint lesson_progress_enrollment_id_lesson_id_key do nothing;
  update lms_public.lesson_progress p set
    attempts_count = (select count(*) from lms_public.quiz_attempts a where a.enrollment_id = v_attempt.enrollment_id and a.quiz_id = v_quiz.id),
    completion_percentage = greatest(p.completion_percentage, v_percentage),
    last_accessed_at = now(),
    status = case when v_quiz.quiz_type = 'graded' and v_attempt.is_passed then 'completed' else p.status end,
    completed_at = case when v_quiz.quiz_type = 'graded' and v_attempt.is_passed then coalesce(p.completed_at, now()) else p.completed_at end
  where p.enrollment_id = v_attempt.enrollment_id and p.lesson_id = v_lesson_id;
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
  select * into v_attempt from lms_public.quiz_attempts where id = p_attempt_id for update;
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
  select * into v_attempt from lms_public.quiz_attempts where id = p_attempt_id for update;
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
    order by a.id
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

do $$
begin
  if not exists (select from pg_type where typname = 'attempt_question' and typnamespace = 'lms_public'::regnamespace) then
    create type lms_public.attempt_question as (
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
    );
  end if;
end
$$;
comment on type lms_public.attempt_question is 'A question as the student sees it in their attempt: never the key, unless the quiz reveals it.';
comment on column lms_public.attempt_question.question_id is 'The question.';
comment on column lms_public.attempt_question.position is 'Its place in this attempt (1, 2, …), drawn once when shuffling.';
comment on column lms_public.attempt_question.question_text is 'The question.';
comment on column lms_public.attempt_question.question_type is 'multiple_choice, true_false, short_answer or essay.';
comment on column lms_public.attempt_question.points is 'Points it is worth.';
comment on column lms_public.attempt_question.options is 'The choices [{id, text}] in this attempt''s order, without correctness.';
comment on column lms_public.attempt_question.answer is 'The student''s saved or submitted answer.';
comment on column lms_public.attempt_question.points_awarded is 'Points earned, once the attempt is graded.';
comment on column lms_public.attempt_question.feedback is 'The instructor''s feedback on an essay, once graded.';
comment on column lms_public.attempt_question.correct_answer is 'The answer key, only once graded, when the quiz shows correct answers and the student has passed or has no attempts left.';
comment on column lms_public.attempt_question.explanation is 'The explanation, under the same condition as the answer key.';

create or replace function lms_private.reveals_answers(p_attempt lms_public.quiz_attempts) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  -- Only after a pass or the last attempt: otherwise a throwaway attempt would harvest the key.
  select p_attempt.status = 'graded' and q.show_correct_answers
     and (exists (select from lms_public.quiz_attempts a where a.enrollment_id = p_attempt.enrollment_id and a.quiz_id = q.id and a.is_passed)
          or lms_private.attempts_left(q, p_attempt.enrollment_id) = 0)
  from lms_public.quizzes q where q.id = p_attempt.quiz_id
$$;
comment on function lms_private.reveals_answers(lms_public.quiz_attempts) is 'Whether a graded attempt may show its answer keys: the quiz shows correct answers, and the student passed it or has no attempts left.';

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
         case when attempt.status = 'graded' then g.points_awarded end,
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
  select * into v_attempt from lms_public.quiz_attempts a where a.id = grade_essay.attempt_id for update;
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
    select a.id from lms_public.quiz_attempts a where a.quiz_id = regrade_quiz.quiz_id and a.status in ('submitted', 'graded') order by a.id
  loop
    perform 1 from lms_public.quiz_attempts where id = v_id for update;
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

create or replace function lms_private.my_attempt_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(a.id), '{}') from lms_public.quiz_attempts a join lms_public.enrollments e on e.id = a.enrollment_id
  where e.student_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_attempt_ids() is 'Ids of the signed-in student''s own quiz attempts.';

create or replace function lms_private.my_taught_quiz_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(q.id), '{}') from lms_public.quizzes q join lms_public.lessons l on l.id = q.lesson_id
  join lms_public.courses c on c.id = l.course_id where c.instructor_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_taught_quiz_ids() is 'Ids of the quizzes in the courses the signed-in user teaches.';

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

create or replace function lms_private.my_taught_lesson_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(l.id), '{}') from lms_public.lessons l
  join lms_public.courses c on c.id = l.course_id where c.instructor_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_taught_lesson_ids() is 'Ids of the lessons in the courses the signed-in user teaches.';
--! EndIncluded functions/quizzes.sql
