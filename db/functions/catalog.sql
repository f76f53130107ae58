-- Catalog: the functions of courses, lessons, slugs, the public syllabus, publishing, reordering
-- and ratings, and their execute grants. Re-runnable: included by every migration that changes it.
--
-- Which lessons count toward completion (lms_private.lesson_counts):
--   a lesson counts when it is not archived, has no live children (a parent is a section),
--   and is not a quiz lesson whose quiz is a practice quiz.
-- Publishing needs at least one counting lesson, and every counting quiz lesson needs a
-- published graded quiz.

select lms_private.begin_domain_functions();

--------------------------------------------------------------------------------
-- Who may change what (the policies' helpers are in access.sql).

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

create or replace function lms_private.random_slug_suffix() returns text
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  -- 32 symbols, so each byte modulo 32 is uniform: 30 random bits, lowercase, no i/l/o/u to misread.
  select string_agg(substr('0123456789abcdefghjkmnpqrstvwxyz', get_byte(r.b, i) % 32 + 1, 1), '' order by i)
  from (select gen_random_bytes(6) as b) r, generate_series(0, 5) as i
$$;
comment on function lms_private.random_slug_suffix() is 'Six random lowercase letters and digits, the suffix of a generated slug whose base is taken.';

create or replace function lms_private.tg_courses__defaults() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_base text;
  v_candidate text;
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
  -- Serialise slug generation: a base and another title's suffixed form can meet.
  perform pg_advisory_xact_lock(hashtext('lms_public.courses.slug'));
  v_candidate := v_base;
  -- A random suffix, not a counter: "-2" would tell the caller that a course it may not see took
  -- the base, and "-3" that two did; a random one tells nothing about who holds what.
  while exists (select from lms_public.courses c where c.slug = v_candidate and c.id <> new.id) loop
    v_candidate := rtrim(v_base, '-') || '-' || lms_private.random_slug_suffix();
  end loop;
  new.slug := v_candidate;
  return new;
end
$$;
comment on function lms_private.tg_courses__defaults() is 'Trigger: a new course''s instructor defaults to the signed-in user; generates a unique slug from the title when none is given (the title''s own slug if no course holds it, else with a random six-character suffix), and validates a given one as lowercase-kebab (INVAL); a given slug that is taken is a unique violation (23505) whoever holds it.';

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

-- Replaced when its attributes change, with the functions below that use it (see common.sql).
select lms_private.define_composite_type('lms_public.syllabus_entry', $$
  id uuid,
  title varchar(255),
  slug varchar(255),
  lesson_type varchar(50),
  order_index integer,
  parent_lesson_id uuid,
  duration_minutes integer,
  is_preview boolean,
  counts_toward_completion boolean
$$);
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
        -- A dropped or expired student's review no longer speaks for the course.
        from lms_public.enrollments e where e.course_id = p_course_id and e.status in ('active', 'completed')) r
  where c.id = p_course_id
    and (c.average_rating is distinct from r.average or c.review_count is distinct from r.reviews);
end
$$;
comment on function lms_private.refresh_course_rating(uuid) is 'Recomputes a course''s average rating and review count from its active and completed enrollments.';

create or replace function lms_private.tg_enrollments__refresh_course_rating() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'DELETE' then
    perform lms_private.refresh_course_rating(old.course_id);
  elsif tg_op = 'INSERT' or new.rating is distinct from old.rating
        or (new.status in ('active', 'completed')) is distinct from (old.status in ('active', 'completed')) then
    perform lms_private.refresh_course_rating(new.course_id);
  end if;
  return null;
end
$$;
comment on function lms_private.tg_enrollments__refresh_course_rating() is 'Trigger: keeps courses.average_rating and review_count true when a rating changes, or an enrollment is dropped, expires or comes back.';

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

--------------------------------------------------------------------------------
-- Execute grants. Everything not named here runs only inside definer functions or triggers.

select lms_private.grant_domain_functions(
  everyone => array['can_manage_course', 'lesson_counts', 'lessons_counts_toward_completion', 'courses_syllabus', 'courses_instructor_name'],
  teachers => array['require_course_manager', 'publish_course', 'unpublish_course', 'reorder_lessons', 'remove_lesson']
);
