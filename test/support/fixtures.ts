import type { Queryable, RoleClaim, TestUser } from './db.ts';

/** The password every inserted user has, unless a test gives another. */
export const PASSWORD = 'correct horse battery staple';

let counter = 0;

/** Inserts a user with a password row (bcrypt at its minimum cost, for speed), as root. */
export async function insertUser(
  client: Queryable,
  fields: { role?: RoleClaim; email?: string; fullName?: string; password?: string } = {},
): Promise<TestUser & { email: string }> {
  counter += 1;
  const role = fields.role ?? 'student';
  const email = fields.email ?? `${role}-${process.pid}-${counter}-${Date.now()}@example.test`;
  const { rows } = await client.query<{ id: string }>(
    `with u as (
       insert into lms_public.users (email, full_name, role) values ($1, $2, $3) returning id
     ), p as (
       insert into lms_private.user_passwords (user_id, password_hash)
       select id, crypt($4, gen_salt('bf', 4)) from u
     )
     select id from u`,
    [email, fields.fullName ?? `Test ${role} ${counter}`, role, fields.password ?? PASSWORD],
  );
  return { id: rows[0]!.id, role, email };
}

export async function insertCourse(
  client: Queryable,
  instructorId: string,
  fields: { title?: string; slug?: string; isPublished?: boolean } = {},
): Promise<{ id: string; slug: string }> {
  counter += 1;
  const slug = fields.slug ?? `course-${process.pid}-${counter}`;
  const { rows } = await client.query<{ id: string }>(
    'insert into lms_public.courses (title, slug, instructor_id, is_published) values ($1, $2, $3, $4) returning id',
    [fields.title ?? `Course ${counter}`, slug, instructorId, fields.isPublished ?? false],
  );
  return { id: rows[0]!.id, slug };
}

/**
 * Moves a lesson's progress clock back, as if the student's last heartbeat were `seconds` ago:
 * record_lesson_progress credits no more time than has passed since then, and a test cannot
 * wait through a video. Fires the progress triggers, so the enrollment's numbers follow.
 */
export async function rewindLessonClock(q: Queryable, enrollmentId: string, lessonId: string, seconds: number): Promise<void> {
  const { rowCount } = await q.query(
    `update lms_public.lesson_progress
     set started_at = started_at - make_interval(secs => $3), last_accessed_at = last_accessed_at - make_interval(secs => $3)
     where enrollment_id = $1 and lesson_id = $2`,
    [enrollmentId, lessonId, seconds],
  );
  if (rowCount !== 1) throw new Error(`no progress of enrollment ${enrollmentId} on lesson ${lessonId} to rewind`);
}
