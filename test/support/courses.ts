/*
 * Courses, lessons and enrollments for the catalog and learning tests (SQL level): fixtures inserted
 * as root, the progress invariants recomputed from scratch, and API pools of their own for races.
 */
import pg from 'pg';
import { type RoleClaim, type TestDatabase, type TestUser, type Transaction, type Db, asRoot } from './db.ts';
import { insertCourse, insertUser } from './fixtures.ts';

export function user(db: Db, role: RoleClaim = 'student', fullName?: string): Promise<TestUser & { email: string }> {
  return asRoot(db, (q) => insertUser(q, { role, ...(fullName ? { fullName } : {}) }));
}

/** A course inserted as root: is_published set directly, skipping publish_course's checks. */
export async function course(
  db: Db,
  instructorId: string,
  fields: { isPublished?: boolean; price?: number; title?: string } = {},
): Promise<{ id: string; slug: string }> {
  return asRoot(db, async (q) => {
    const c = await insertCourse(q, instructorId, { isPublished: fields.isPublished ?? true, ...(fields.title ? { title: fields.title } : {}) });
    if (fields.price !== undefined) await q.query('update lms_public.courses set price = $2 where id = $1', [c.id, fields.price]);
    return c;
  });
}

export interface LessonFields {
  title?: string;
  lessonType?: 'video' | 'text' | 'quiz' | 'assignment';
  parentId?: string | null;
  isPreview?: boolean;
  content?: string | null;
  videoUrl?: string | null;
  durationMinutes?: number | null;
  orderIndex?: number | null;
}

let lessonCounter = 0;

/** A lesson inserted as root; order_index defaults to the end of the course. */
export function lesson(db: Db, courseId: string, fields: LessonFields = {}): Promise<string> {
  lessonCounter += 1;
  return asRoot(db, async (q) => {
    const { rows } = await q.query<{ id: string }>(
      `insert into lms_public.lessons (course_id, title, lesson_type, parent_lesson_id, is_preview, content, video_url, duration_minutes, order_index)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id`,
      [
        courseId,
        fields.title ?? `Lesson ${lessonCounter}`,
        fields.lessonType ?? 'text',
        fields.parentId ?? null,
        fields.isPreview ?? false,
        fields.content === undefined ? `body ${lessonCounter}` : fields.content,
        fields.videoUrl ?? null,
        fields.durationMinutes === undefined ? 10 : fields.durationMinutes,
        fields.orderIndex ?? null,
      ],
    );
    return rows[0]!.id;
  });
}

export async function lessons(db: Db, courseId: string, n: number, fields: LessonFields = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await lesson(db, courseId, fields));
  return ids;
}

/** A quiz on a lesson, as root. */
export function quiz(db: Db, lessonId: string, fields: { quizType?: 'graded' | 'practice'; isPublished?: boolean } = {}): Promise<string> {
  return asRoot(db, async (q) => {
    const { rows } = await q.query<{ id: string }>(
      'insert into lms_public.quizzes (lesson_id, title, quiz_type, is_published) values ($1, $2, $3, $4) returning id',
      [lessonId, 'Quiz', fields.quizType ?? 'graded', fields.isPublished ?? true],
    );
    return rows[0]!.id;
  });
}

/** A published course of its own instructor with n text lessons. */
export async function publishedCourse(db: Db, n: number, fields: { price?: number } = {}) {
  const teacher = await user(db, 'instructor');
  const c = await course(db, teacher.id, { isPublished: true, ...fields });
  const ids = await lessons(db, c.id, n);
  return { teacher, course: c, lessons: ids };
}

export interface Enrollment {
  id: string;
  student_id: string;
  course_id: string;
  status: string;
  progress_percentage: string;
  completed_lessons_count: number;
  total_lessons_count: number;
  total_time_spent_seconds: number;
  started_at: Date | null;
  completed_at: Date | null;
  last_accessed_at: Date | null;
  rating: number | null;
  review: string | null;
}

/** Switches the transaction to the user (it stays so) and enrolls them. */
export async function enrollAs(tx: Transaction, who: TestUser, courseId: string): Promise<Enrollment> {
  await tx.becomeUser(who);
  const { rows } = await tx.query<Enrollment>('select * from lms_public.enroll($1)', [courseId]);
  return rows[0]!;
}

export async function enrollmentRow(db: Db, enrollmentId: string): Promise<Enrollment> {
  return asRoot(db, async (q) => (await q.query<Enrollment>('select * from lms_public.enrollments where id = $1', [enrollmentId])).rows[0]!);
}

/**
 * Recomputes every documented invariant of an enrollment from the lessons, quizzes and progress
 * rows, as root and without the engine's own functions, and compares with the stored numbers.
 */
export async function expectInvariants(db: Db, enrollmentId: string): Promise<Enrollment> {
  return asRoot(db, async (q) => {
    const { rows } = await q.query(
      `with e as (select * from lms_public.enrollments where id = $1),
       counting as (
         select l.id from lms_public.lessons l join e on l.course_id = e.course_id
         where l.archived_at is null
           and not exists (select 1 from lms_public.lessons child where child.parent_lesson_id = l.id and child.archived_at is null)
           and not exists (select 1 from lms_public.quizzes qz where qz.lesson_id = l.id and qz.quiz_type = 'practice')
       ),
       p as (select * from lms_public.lesson_progress where enrollment_id = $1),
       x as (
         select (select count(*) from counting)::int as total,
                (select count(*) from p where p.status = 'completed' and p.lesson_id in (select id from counting))::int as completed,
                (select coalesce(sum(time_spent_seconds), 0) from p)::int as time,
                (select min(started_at) from p) as started_at,
                (select max(greatest(last_accessed_at, started_at, completed_at)) from p) as last_accessed_at
       )
       select x.*, case when x.total = 0 then 0 else round(100.0 * x.completed / x.total, 2) end::numeric(5, 2)::text as percentage
       from x`,
      [enrollmentId],
    );
    const expected = rows[0]!;
    const actual = (await q.query<Enrollment>('select * from lms_public.enrollments where id = $1', [enrollmentId])).rows[0]!;
    expect(actual).toBeDefined();
    expect({
      total: actual.total_lessons_count,
      completed: actual.completed_lessons_count,
      percentage: actual.progress_percentage,
      time: actual.total_time_spent_seconds,
      started_at: actual.started_at,
      last_accessed_at: actual.last_accessed_at,
    }).toEqual({
      total: expected.total,
      completed: expected.completed,
      percentage: expected.percentage,
      time: expected.time,
      started_at: expected.started_at,
      last_accessed_at: expected.last_accessed_at,
    });
    expect(Number(actual.progress_percentage)).toBeLessThanOrEqual(100);
    const allDone = expected.total > 0 && expected.completed === expected.total;
    if (actual.status === 'active') {
      // Every counting lesson complete means the enrollment is completed, not active.
      expect({ status: actual.status, allDone }).toEqual({ status: 'active', allDone: false });
      expect(actual.completed_at).toBeNull();
    }
    if (actual.status === 'completed') expect(actual.completed_at).not.toBeNull();
    return actual;
  });
}

let poolCounter = 0;

/** A pool of API connections (lms_authenticator) of its own, for truly parallel transactions. */
export function apiPool(db: TestDatabase, max: number): pg.Pool {
  poolCounter += 1;
  return new pg.Pool({ connectionString: db.authUrl, max, application_name: `learning-${process.pid}-${poolCounter}` });
}

/**
 * Ends such a pool and waits until its backends are gone: pool.end() resolves before the sockets
 * close, and dropping the database meanwhile would kill them mid-goodbye (57P01, unhandled).
 */
export async function endPool(db: TestDatabase, pool: pg.Pool): Promise<void> {
  const name = pool.options.application_name;
  await pool.end();
  for (let i = 0; i < 250; i++) {
    const { rows } = await db.root.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where application_name = $1', [name]);
    if (rows[0]!.n === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
