--! Previous: sha1:acbbbcd75fa840adb00c3726d4cb82441f6d1e7c
--! Hash: sha1:bb43005ae6a7714f58ef98d01e2a789322e257a3
--! Message: learning engine: catalog, lessons, enrollment and progress kept true by the database, reviews

-- Courses: a price (0 is free) and a currency, and the public rating kept by a trigger.
alter table lms_public.courses add column if not exists price numeric(10, 2) not null default 0;
alter table lms_public.courses drop constraint if exists courses_price_check;
alter table lms_public.courses add constraint courses_price_check check (price >= 0);
alter table lms_public.courses add column if not exists currency varchar(3) not null default 'EGP';
alter table lms_public.courses drop constraint if exists courses_currency_check;
alter table lms_public.courses add constraint courses_currency_check check (currency ~ '^[A-Z]{3}$');
alter table lms_public.courses add column if not exists average_rating numeric(3, 2);
alter table lms_public.courses add column if not exists review_count integer not null default 0;
comment on column lms_public.courses.price is 'The price to enroll; 0 means free.';
comment on column lms_public.courses.currency is 'ISO 4217 currency of the price; EGP by default.';
comment on column lms_public.courses.average_rating is 'Average of the students'' ratings, 1 to 5; null before the first. Kept by a trigger.';
comment on column lms_public.courses.review_count is 'How many students rated the course. Kept by a trigger.';
comment on column lms_public.courses.slug is E'@hasDefault\nUnique, URL-friendly name of the course: lowercase-kebab. Generated from the title when not given.';
comment on column lms_public.courses.instructor_id is E'@hasDefault\nThe instructor who owns the course; the signed-in instructor by default.';

-- Lessons: archived instead of deleted once someone has worked on them.
alter table lms_public.lessons add column if not exists archived_at timestamptz;
comment on column lms_public.lessons.archived_at is 'When the lesson was removed after students had worked on it; an archived lesson stays for their records but no longer counts.';
comment on column lms_public.lessons.slug is E'@hasDefault\nURL-friendly name of the lesson within its course; generated from the title when not given.';
comment on column lms_public.lessons.order_index is E'@hasDefault\nPosition in the course, from 0; unique per course. New lessons go last when not given; reorderLessons moves them.';

-- Progress: the latest heartbeat, so that enrollments.last_accessed_at is derived, not guessed.
alter table lms_public.lesson_progress add column if not exists last_accessed_at timestamptz;
comment on column lms_public.lesson_progress.last_accessed_at is 'The student''s latest activity on the lesson (start, heartbeat or completion).';

-- Reviews.
alter table lms_public.enrollments drop constraint if exists enrollments_rating_check;
alter table lms_public.enrollments add constraint enrollments_rating_check check (rating between 1 and 5);
comment on column lms_public.enrollments.rating is 'The student''s rating of the course, 1 to 5; only the student writes it.';
comment on column lms_public.enrollments.review is 'The student''s review of the course; only the student writes it.';
comment on column lms_public.enrollments.progress_percentage is 'round(100 × completed / total, 2); never above 100. Below 100 on a completed enrollment means new lessons arrived after completion.';

-- Aggregates and filters need these.
create index if not exists ix_enrollments_course_id_status on lms_public.enrollments (course_id, status);
create index if not exists ix_lessons_course_id_order_index on lms_public.lessons (course_id, order_index);

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
  -- Serialise generators of one base, so that two courses titled alike get different slugs.
  perform pg_advisory_xact_lock(hashtext('lms_public.courses.slug:' || v_base));
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
  select * into v_course from lms_public.courses c where c.id = publish_course.course_id for update;
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
  perform 1 from lms_public.courses c where c.id = reorder_lessons.course_id for update;
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
  if exists (select from lms_public.lesson_progress p where p.lesson_id = old.id)
     or exists (select from lms_public.quiz_attempts a join lms_public.quizzes q on q.id = a.quiz_id where q.lesson_id = old.id) then
    update lms_public.lessons set archived_at = coalesce(archived_at, now()) where id = old.id;
    return null;
  end if;
  return old;
end
$$;
comment on function lms_private.tg_lessons__archive_instead_of_delete() is 'Trigger: a lesson with progress or quiz attempts is archived instead of deleted, so that the cascades cannot destroy grades.';

--------------------------------------------------------------------------------
-- Reviews: a course's public rating, kept by a trigger.

create or replace function lms_private.refresh_course_rating(p_course_id uuid) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- Lock first, then read in a new statement: a concurrent review committed while we waited is counted.
  perform 1 from lms_public.courses c where c.id = p_course_id for update;
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
-- Locking: an operation locks the lesson (KEY SHARE), then its enrollment row (FOR UPDATE),
-- then writes progress. A change to a course's lessons recalculates every enrollment of the
-- course, locking them in id order. One order everywhere: no deadlocks, no lost updates.

create or replace function lms_private.recalculate_enrollment(p_enrollment_id uuid) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course_id uuid;
  v_total integer;
  v_completed integer;
  v_time integer;
  v_started timestamptz;
  v_last timestamptz;
begin
  select e.course_id into v_course_id from lms_public.enrollments e where e.id = p_enrollment_id for update;
  if v_course_id is null then
    return;
  end if;
  select count(*) into v_total from lms_private.counting_lesson_ids(v_course_id);
  select count(*) into v_completed from lms_public.lesson_progress p
  where p.enrollment_id = p_enrollment_id and p.status = 'completed'
    and p.lesson_id in (select lms_private.counting_lesson_ids(v_course_id));
  select coalesce(sum(p.time_spent_seconds), 0), min(p.started_at), max(greatest(p.last_accessed_at, p.started_at, p.completed_at))
    into v_time, v_started, v_last
  from lms_public.lesson_progress p where p.enrollment_id = p_enrollment_id;
  update lms_public.enrollments e set
    total_lessons_count = v_total,
    completed_lessons_count = v_completed,
    progress_percentage = case when v_total = 0 then 0 else round(100.0 * v_completed / v_total, 2) end,
    total_time_spent_seconds = v_time,
    started_at = v_started,
    last_accessed_at = v_last,
    status = case when e.status = 'active' and v_total > 0 and v_completed = v_total then 'completed' else e.status end,
    completed_at = case when e.status = 'active' and v_total > 0 and v_completed = v_total then coalesce(e.completed_at, now()) else e.completed_at end
  where e.id = p_enrollment_id
    and (e.total_lessons_count, e.completed_lessons_count, e.total_time_spent_seconds, e.started_at, e.last_accessed_at, e.status)
        is distinct from (v_total, v_completed, v_time, v_started, v_last,
                          case when e.status = 'active' and v_total > 0 and v_completed = v_total then 'completed' else e.status end);
end
$$;
comment on function lms_private.recalculate_enrollment(uuid) is 'Brings one enrollment back to its invariants, under its row lock; costs O(lessons of the course).';

create or replace function lms_private.recalculate_course_enrollments(p_course_id uuid) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
begin
  for v_id in select e.id from lms_public.enrollments e where e.course_id = p_course_id order by e.id for update loop
    perform lms_private.recalculate_enrollment(v_id);
  end loop;
end
$$;
comment on function lms_private.recalculate_course_enrollments(uuid) is 'Recalculates every enrollment of a course, locking them in id order; run when the course''s lessons change.';

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
  select * into v_course from lms_public.courses c where c.id = enroll.course_id;
  select * into v_enrollment from lms_public.enrollments e
  where e.student_id = v_user_id and e.course_id = enroll.course_id for update;
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
  where e.student_id = v_user_id and e.course_id = drop_course.course_id for update;
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
  for update;
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
  v_since_last := coalesce(ceil(extract(epoch from clock_timestamp() - coalesce(v_progress.last_accessed_at, v_progress.started_at)))::integer, 0);
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

drop trigger if exists _050_defaults on lms_public.courses;
create trigger _050_defaults before insert or update of slug, title on lms_public.courses
  for each row execute function lms_private.tg_courses__defaults();

drop trigger if exists _050_defaults on lms_public.lessons;
create trigger _050_defaults before insert on lms_public.lessons
  for each row execute function lms_private.tg_lessons__defaults();
drop trigger if exists _060_check_parent on lms_public.lessons;
create trigger _060_check_parent before insert or update of parent_lesson_id, course_id on lms_public.lessons
  for each row execute function lms_private.tg_lessons__check_parent();
drop trigger if exists _070_archive_instead_of_delete on lms_public.lessons;
create trigger _070_archive_instead_of_delete before delete on lms_public.lessons
  for each row execute function lms_private.tg_lessons__archive_instead_of_delete();
drop trigger if exists _500_recalculate_insert on lms_public.lessons;
create trigger _500_recalculate_insert after insert on lms_public.lessons
  referencing new table as new_rows for each statement execute function lms_private.tg_lessons__recalculate_courses_insert();
drop trigger if exists _500_recalculate_update on lms_public.lessons;
create trigger _500_recalculate_update after update on lms_public.lessons
  referencing new table as new_rows old table as old_rows for each statement execute function lms_private.tg_lessons__recalculate_courses();
drop trigger if exists _500_recalculate_delete on lms_public.lessons;
create trigger _500_recalculate_delete after delete on lms_public.lessons
  referencing old table as old_rows for each statement execute function lms_private.tg_lessons__recalculate_courses_delete();

drop trigger if exists _500_recalculate_insert on lms_public.quizzes;
create trigger _500_recalculate_insert after insert on lms_public.quizzes
  referencing new table as new_rows for each statement execute function lms_private.tg_quizzes__recalculate_courses_insert();
drop trigger if exists _500_recalculate_update on lms_public.quizzes;
create trigger _500_recalculate_update after update on lms_public.quizzes
  referencing new table as new_rows old table as old_rows for each statement execute function lms_private.tg_quizzes__recalculate_courses();
drop trigger if exists _500_recalculate_delete on lms_public.quizzes;
create trigger _500_recalculate_delete after delete on lms_public.quizzes
  referencing old table as old_rows for each statement execute function lms_private.tg_quizzes__recalculate_courses_delete();

drop trigger if exists _500_recalculate_insert on lms_public.lesson_progress;
create trigger _500_recalculate_insert after insert on lms_public.lesson_progress
  referencing new table as new_rows for each statement execute function lms_private.tg_lesson_progress__recalculate_insert();
drop trigger if exists _500_recalculate_update on lms_public.lesson_progress;
create trigger _500_recalculate_update after update on lms_public.lesson_progress
  referencing new table as new_rows old table as old_rows for each statement execute function lms_private.tg_lesson_progress__recalculate();
drop trigger if exists _500_recalculate_delete on lms_public.lesson_progress;
create trigger _500_recalculate_delete after delete on lms_public.lesson_progress
  referencing old table as old_rows for each statement execute function lms_private.tg_lesson_progress__recalculate_delete();

drop trigger if exists _100_check_review on lms_public.enrollments;
create trigger _100_check_review before update of rating, review on lms_public.enrollments
  for each row execute function lms_private.tg_enrollments__check_review();
drop trigger if exists _600_refresh_course_rating on lms_public.enrollments;
create trigger _600_refresh_course_rating after update of rating or delete on lms_public.enrollments
  for each row execute function lms_private.tg_enrollments__refresh_course_rating();

-- Existing enrollments meet the invariants from now on.
do $$
declare
  v_id uuid;
begin
  for v_id in select id from lms_public.enrollments order by id loop
    perform lms_private.recalculate_enrollment(v_id);
  end loop;
end
$$;

--! Included policies/catalog.sql
-- Catalog: courses and lessons.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.courses enable row level security;
alter table lms_public.lessons enable row level security;

revoke all on lms_public.courses, lms_public.lessons
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Courses: everyone sees the published catalog; instructors their own drafts; enrolled
-- students keep seeing a course that was unpublished; admins see everything.
grant select on lms_public.courses to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant insert (title, slug, description, category, difficulty_level, thumbnail_url, estimated_duration_minutes, course_metadata, price, currency)
  on lms_public.courses to lms_instructor, lms_admin;
grant insert (instructor_id) on lms_public.courses to lms_admin;
grant update (title, slug, description, category, difficulty_level, thumbnail_url, estimated_duration_minutes, course_metadata, price, currency)
  on lms_public.courses to lms_instructor, lms_admin;
grant delete on lms_public.courses to lms_instructor, lms_admin;

drop policy if exists select_published_own_or_admin on lms_public.courses;
drop policy if exists select_visible on lms_public.courses;
create policy select_visible on lms_public.courses for select
  using (
    is_published
    or instructor_id = lms_private.current_user_id()
    or lms_private.is_admin()
    or id = any((select lms_private.my_entitled_course_ids())::uuid[])
  );

drop policy if exists insert_own on lms_public.courses;
create policy insert_own on lms_public.courses for insert
  with check (instructor_id = lms_private.current_user_id() or lms_private.is_admin());

drop policy if exists update_own on lms_public.courses;
create policy update_own on lms_public.courses for update
  using (instructor_id = lms_private.current_user_id() or lms_private.is_admin())
  with check (instructor_id = lms_private.current_user_id() or lms_private.is_admin());

-- Drafts only: a published course is unpublished first; one with enrollments cannot go.
drop policy if exists delete_own_draft on lms_public.courses;
create policy delete_own_draft on lms_public.courses for delete
  using ((instructor_id = lms_private.current_user_id() and not is_published) or lms_private.is_admin());

-- Lessons: whole rows (content, video_url) for the course's instructor and admins, for
-- enrolled students, and for anyone on preview lessons of a published course. Everyone else
-- reads the public syllabus through courses.syllabus.
grant select on lms_public.lessons to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant insert (course_id, title, slug, description, content, lesson_type, order_index, parent_lesson_id, duration_minutes, video_url, is_preview, lesson_metadata)
  on lms_public.lessons to lms_instructor, lms_admin;
grant update (title, slug, description, content, lesson_type, parent_lesson_id, duration_minutes, video_url, is_preview, lesson_metadata)
  on lms_public.lessons to lms_instructor, lms_admin;

drop policy if exists select_entitled on lms_public.lessons;
create policy select_entitled on lms_public.lessons for select
  using (
    course_id = any((select lms_private.my_taught_course_ids())::uuid[])
    or lms_private.is_admin()
    or (archived_at is null and course_id = any((select lms_private.my_entitled_course_ids())::uuid[]))
    or (archived_at is null and is_preview and course_id in (select c.id from lms_public.courses c where c.is_published))
  );

drop policy if exists insert_own_course on lms_public.lessons;
create policy insert_own_course on lms_public.lessons for insert
  with check (course_id = any((select lms_private.my_taught_course_ids())::uuid[]) or lms_private.is_admin());

drop policy if exists update_own_course on lms_public.lessons;
create policy update_own_course on lms_public.lessons for update
  using (course_id = any((select lms_private.my_taught_course_ids())::uuid[]) or lms_private.is_admin())
  with check (course_id = any((select lms_private.my_taught_course_ids())::uuid[]) or lms_private.is_admin());
--! EndIncluded policies/catalog.sql
--! Included policies/learning.sql
-- Learning: enrollments and lesson progress.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.enrollments enable row level security;
alter table lms_public.lesson_progress enable row level security;

revoke all on lms_public.enrollments, lms_public.lesson_progress
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Counters and status are derived: they change only through enroll, dropCourse and the
-- progress functions. A student writes only their own rating and review.
grant select on lms_public.enrollments to lms_student, lms_instructor, lms_admin;
grant update (rating, review) on lms_public.enrollments to lms_student, lms_instructor, lms_admin;
grant select on lms_public.lesson_progress to lms_student, lms_instructor, lms_admin;

drop policy if exists select_own_taught_or_admin on lms_public.enrollments;
create policy select_own_taught_or_admin on lms_public.enrollments for select
  using (
    student_id = lms_private.current_user_id()
    or course_id = any((select lms_private.my_taught_course_ids())::uuid[])
    or lms_private.is_admin()
  );

drop policy if exists review_own on lms_public.enrollments;
create policy review_own on lms_public.enrollments for update
  using (student_id = lms_private.current_user_id() and status in ('active', 'completed'))
  with check (student_id = lms_private.current_user_id());

drop policy if exists select_own_taught_or_admin on lms_public.lesson_progress;
create policy select_own_taught_or_admin on lms_public.lesson_progress for select
  using (
    enrollment_id = any((select lms_private.my_enrollment_ids())::uuid[])
    or lesson_id in (select l.id from lms_public.lessons l where l.course_id = any((select lms_private.my_taught_course_ids())::uuid[]))
    or lms_private.is_admin()
  );
--! EndIncluded policies/learning.sql

-- Execute grants: nothing to PUBLIC; each function to the roles that call it.
do $$
declare
  v_function regprocedure;
begin
  for v_function in
    select p.oid::regprocedure from pg_proc p
    where p.pronamespace in ('lms_public'::regnamespace, 'lms_private'::regnamespace)
      and p.proname in ('my_taught_course_ids', 'my_entitled_course_ids', 'my_enrollment_ids', 'can_manage_course',
        'require_course_manager', 'slugify', 'tg_courses__defaults', 'tg_lessons__defaults', 'tg_lessons__check_parent',
        'lesson_counts', 'counting_lesson_ids', 'lessons_counts_toward_completion', 'courses_syllabus', 'courses_instructor_name',
        'publish_course', 'unpublish_course', 'reorder_lessons', 'remove_lesson', 'tg_lessons__archive_instead_of_delete',
        'refresh_course_rating', 'tg_enrollments__refresh_course_rating', 'tg_enrollments__check_review',
        'recalculate_enrollment', 'recalculate_course_enrollments', 'tg_lesson_progress__recalculate',
        'tg_lesson_progress__recalculate_insert', 'tg_lesson_progress__recalculate_delete', 'tg_lessons__recalculate_courses',
        'tg_lessons__recalculate_courses_insert', 'tg_lessons__recalculate_courses_delete', 'tg_quizzes__recalculate_courses',
        'tg_quizzes__recalculate_courses_insert', 'tg_quizzes__recalculate_courses_delete', 'enroll', 'drop_course',
        'lock_progress', 'start_lesson', 'record_lesson_progress', 'complete_lesson', 'enrollments_has_new_content',
        'enrollments_student_name')
  loop
    execute format('revoke all on function %s from public, lms_anonymous, lms_student, lms_instructor, lms_admin, lms_authenticator', v_function);
  end loop;
end
$$;

grant execute on function
  lms_private.my_taught_course_ids(), lms_private.my_entitled_course_ids(), lms_private.my_enrollment_ids(),
  lms_private.can_manage_course(uuid), lms_private.lesson_counts(lms_public.lessons),
  lms_public.lessons_counts_toward_completion(lms_public.lessons), lms_public.courses_syllabus(lms_public.courses),
  lms_public.courses_instructor_name(lms_public.courses), lms_public.enrollments_has_new_content(lms_public.enrollments),
  lms_public.enrollments_student_name(lms_public.enrollments)
  to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant execute on function
  lms_public.enroll(uuid), lms_public.drop_course(uuid), lms_public.start_lesson(uuid),
  lms_public.record_lesson_progress(uuid, integer, integer), lms_public.complete_lesson(uuid)
  to lms_student, lms_instructor, lms_admin;
grant execute on function
  lms_private.require_course_manager(uuid), lms_public.publish_course(uuid), lms_public.unpublish_course(uuid),
  lms_public.reorder_lessons(uuid, uuid[]), lms_public.remove_lesson(uuid)
  to lms_instructor, lms_admin;
