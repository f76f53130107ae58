import type pg from 'pg';
import type { TestUser } from '../../support/db.ts';
import { createTestDatabase, type TestDatabase, committedAs } from '../../support/db.ts';
import { apiPool, course, endPool, expectInvariants, lesson, lessons, user, type Enrollment } from '../../support/courses.ts';

// Committed data on separate connections: each call is one real transaction, as over HTTP.
let db: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  // This test database only: a deadlock, if any, is detected in 0.1 s rather than 1 s.
  await db.root.query(`alter database "${db.name}" set deadlock_timeout = '100ms'`);
  pool = apiPool(db, 25);
});
afterAll(async () => {
  await endPool(db, pool);
  await db.close();
});

/** Runs one call as its own committed transaction; resolves to null or the SQLSTATE it failed with. */
async function attempt(who: TestUser, sql: string, params: unknown[]): Promise<string | null> {
  try {
    await committedAs(pool, who, (c) => c.query(sql, params));
    return null;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

async function enroll(who: TestUser, courseId: string): Promise<Enrollment> {
  return committedAs(pool, who, async (c) => (await c.query<Enrollment>('select * from lms_public.enroll($1)', [courseId])).rows[0]!);
}

const complete = 'select lms_public.complete_lesson($1)';

it('50 completions of one enrollment at once: all succeed, no deadlock, 50/50 and completed', async () => {
  const teacher = await user(db.root, 'instructor');
  const c = await course(db.root, teacher.id, { isPublished: true });
  const ids = await lessons(db.root, c.id, 50);
  const student = await user(db.root);
  const e = await enroll(student, c.id);
  expect(e.total_lessons_count).toBe(50);

  const errors = (await Promise.all(ids.map((id) => attempt(student, complete, [id])))).filter((x) => x !== null);
  expect(errors).toEqual([]);

  const after = await expectInvariants(db.root, e.id);
  expect(after).toMatchObject({ status: 'completed', completed_lessons_count: 50, total_lessons_count: 50, progress_percentage: '100.00' });
});

it('10 students × 5 completions, with the instructor adding a lesson and archiving another in the same burst', async () => {
  const teacher = await user(db.root, 'instructor');
  const c = await course(db.root, teacher.id, { isPublished: true });
  const ids = await lessons(db.root, c.id, 5);
  const doomed = await lesson(db.root, c.id, { title: 'Doomed' });
  const students = await Promise.all(Array.from({ length: 10 }, () => user(db.root)));
  const enrollments = await Promise.all(students.map((s) => enroll(s, c.id)));
  // Someone worked on it, so removing it archives it rather than deleting it.
  expect(await attempt(students[0]!, 'select lms_public.start_lesson($1)', [doomed])).toBeNull();

  const calls: Promise<string | null>[] = [];
  for (const [i, lessonId] of ids.entries()) {
    for (const s of students) calls.push(attempt(s, complete, [lessonId]));
    if (i === 1) calls.push(attempt(teacher, "insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'Late addition', 'text')", [c.id]));
    if (i === 3) calls.push(attempt(teacher, 'select lms_public.remove_lesson($1)', [doomed]));
  }
  const errors = (await Promise.all(calls)).filter((x) => x !== null);
  expect(errors).toEqual([]);

  const { rows } = await db.root.query(
    "select count(*) filter (where title = 'Late addition')::int as added, count(*) filter (where id = $2 and archived_at is not null)::int as archived from lms_public.lessons where course_id = $1",
    [c.id, doomed],
  );
  expect(rows).toEqual([{ added: 1, archived: 1 }]);
  for (const e of enrollments) {
    const after = await expectInvariants(db.root, e.id);
    expect(after).toMatchObject({ total_lessons_count: 6, completed_lessons_count: 5, progress_percentage: '83.33' });
    // Completed if the archive landed, and all five were done, before the new lesson: earned, kept.
    expect(['active', 'completed']).toContain(after.status);
  }
});

it('the last completion racing a new lesson: the enrollment ends consistent either way', async () => {
  const teacher = await user(db.root, 'instructor');
  const c = await course(db.root, teacher.id, { isPublished: true });
  const ids = await lessons(db.root, c.id, 2);
  const students = await Promise.all(Array.from({ length: 8 }, () => user(db.root)));
  const enrollments = await Promise.all(students.map((s) => enroll(s, c.id)));
  for (const s of students) expect(await attempt(s, complete, [ids[0]])).toBeNull();

  const calls = students.map((s) => attempt(s, complete, [ids[1]]));
  void calls.splice(4, 0, attempt(teacher, "insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'Racer', 'text')", [c.id]));
  expect((await Promise.all(calls)).filter((x) => x !== null)).toEqual([]);

  for (const e of enrollments) {
    const after = await expectInvariants(db.root, e.id);
    // Completed before the lesson arrived, or still active after: never active at 2/2 nor 3/3.
    expect(after.total_lessons_count).toBe(3);
    expect(after.completed_lessons_count).toBe(2);
    expect(['active', 'completed']).toContain(after.status);
  }
});

it('concurrent heartbeats on one lesson serialise: no heartbeat is credited the time another one already counted', async () => {
  const teacher = await user(db.root, 'instructor');
  const c = await course(db.root, teacher.id, { isPublished: true });
  const [l] = await lessons(db.root, c.id, 1);
  const student = await user(db.root);
  const e = await enroll(student, c.id);
  expect(await attempt(student, 'select lms_public.start_lesson($1)', [l])).toBeNull();
  // Ten minutes since the start, then twenty heartbeats each claiming an hour, at once.
  await db.root.query("update lms_public.lesson_progress set last_accessed_at = clock_timestamp() - interval '600 seconds' where lesson_id = $1", [l]);
  const began = Date.now();
  const beats = Array.from({ length: 20 }, (_, i) => attempt(student, 'select lms_public.record_lesson_progress($1, $2, 3600)', [l, i]));
  expect((await Promise.all(beats)).filter((x) => x !== null)).toEqual([]);
  const wall = Math.ceil((Date.now() - began) / 1000);

  const after = await expectInvariants(db.root, e.id);
  // Only one heartbeat may claim the ten minutes; the others get what passed since the previous one
  // (each rounded up to a second at most).
  expect(after.total_time_spent_seconds).toBeGreaterThanOrEqual(600);
  expect(after.total_time_spent_seconds).toBeLessThanOrEqual(600 + wall + 20);
});

// Regression (fixed in migration 000008): a rating locks its enrollment, then (trigger _600_refresh_course_rating →
// refresh_course_rating) the course FOR UPDATE; adding a lesson holds the course FOR KEY SHARE
// (foreign key check), then recalculate_enrollments locks every enrollment of the course FOR UPDATE.
// Opposite orders on the same two rows: deadlocks (40P01) under a burst.
it('ratings from many students at once, while the instructor adds lessons, all succeed', async () => {
  // A race: a few bursts, stopping at the first that fails.
  for (let round = 0; round < 5; round++) {
    const teacher = await user(db.root, 'instructor');
    const c = await course(db.root, teacher.id, { isPublished: true });
    await lessons(db.root, c.id, 1);
    const students = await Promise.all(Array.from({ length: 12 }, () => user(db.root)));
    const enrollments = await Promise.all(students.map((s) => enroll(s, c.id)));

    const ratings = students.map((s, i) => attempt(s, 'update lms_public.enrollments set rating = $2 where id = $1', [enrollments[i]!.id, (i % 5) + 1]));
    const additions = [0, 1, 2].map(() =>
      attempt(teacher, "insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'More', 'text')", [c.id]),
    );
    const outcomes = { round, ratings: await Promise.all(ratings), additions: await Promise.all(additions) };
    expect(outcomes).toEqual({ round, ratings: ratings.map(() => null), additions: [null, null, null] });

    const { rows } = await db.root.query(
      'select c.average_rating, c.review_count, (select round(avg(rating), 2)::text from lms_public.enrollments where course_id = c.id) as expected from lms_public.courses c where c.id = $1',
      [c.id],
    );
    expect(rows[0].review_count).toBe(12);
    expect(rows[0].average_rating).toBe(rows[0].expected);
    for (const e of enrollments) expect((await expectInvariants(db.root, e.id)).total_lessons_count).toBe(4);
  }
});

// Enroll takes the course's content lock shared and a lesson change takes it exclusive, so an
// enrollment started during an uncommitted lesson change waits for it and counts the new lesson.
it('an enrollment made while a lesson is being added waits for it and ends with the right total', async () => {
  const teacher = await user(db.root, 'instructor');
  const c = await course(db.root, teacher.id, { isPublished: true });
  await lessons(db.root, c.id, 2);
  const student = await user(db.root);

  const instructor = await pool.connect();
  try {
    await instructor.query('begin');
    await instructor.query('set local role lms_instructor');
    await instructor.query("select set_config('jwt.claims.user_id', $1, true)", [teacher.id]);
    await instructor.query("insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'Added meanwhile', 'text')", [c.id]);
    // The student's request arrives while the instructor's is still open.
    const pending = enroll(student, c.id);
    await new Promise((r) => setTimeout(r, 200));
    await instructor.query('commit');
    const e = await pending;
    await expectInvariants(db.root, e.id);
    expect((await db.root.query('select total_lessons_count from lms_public.enrollments where id = $1', [e.id])).rows[0].total_lessons_count).toBe(3);
  } finally {
    await instructor.query('rollback').catch(() => {});
    instructor.release();
  }
});
