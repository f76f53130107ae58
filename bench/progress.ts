/**
 * How much keeping the progress invariants costs. Prints, for courses of growing size, the time
 * of one completeLesson transaction (as the API runs it: begin, role switch, call, commit) and
 * its ratio to a baseline measured in the same run (the same transaction around `select 1`),
 * then the cost of adding a lesson to a course with many enrollments (every one recalculated).
 *
 *   npm run bench
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createMigratedDatabase, startScratchCluster, superuserUrl } from '../src/db/scratch-cluster.ts';
import { DEV_ROLE_PASSWORDS, withCredentials } from '../src/db/connections.ts';
import { withTransaction } from '../src/db/transaction.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const cluster = await startScratchCluster();
const database = 'coursebase_bench';
await createMigratedDatabase(cluster.baseUrl, database);
const rootUrl = superuserUrl(cluster.baseUrl, database);
const root = new pg.Pool({ connectionString: rootUrl, max: 2 });
const auth = new pg.Pool({ connectionString: withCredentials(rootUrl, 'lms_authenticator', DEV_ROLE_PASSWORDS.lms_authenticator), max: 2 });
// The cluster stops right after the pools end; an idle connection may still hear it go.
for (const pool of [root, auth]) pool.on('error', () => {});

async function user(role: string): Promise<string> {
  const { rows } = await root.query(
    `with u as (insert into lms_public.users (email, full_name, role) values (gen_random_uuid() || '@bench.test', 'Bench', $1) returning id),
          p as (insert into lms_private.user_passwords select id, 'x' from u) select id from u`,
    [role],
  );
  return rows[0].id;
}

async function course(lessons: number, teacher: string): Promise<{ id: string; lessonIds: string[] }> {
  const { rows } = await root.query("insert into lms_public.courses (title, instructor_id, is_published) values ('Bench', $1, true) returning id", [teacher]);
  const id = rows[0].id;
  const inserted = await root.query(
    "insert into lms_public.lessons (course_id, title, lesson_type, order_index) select $1, 'L' || i, 'text', i from generate_series(0, $2 - 1) i returning id",
    [id, lessons],
  );
  return { id, lessonIds: inserted.rows.map((r) => r.id) };
}

async function asStudent(studentId: string, sql: string, params: unknown[]): Promise<void> {
  await withTransaction(auth, { role: 'lms_student', settings: { 'jwt.claims.user_id': studentId } }, (client) => client.query(sql, params));
}

async function timeEach(count: number, run: (i: number) => Promise<void>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) await run(i);
  return (performance.now() - start) / count;
}

const teacher = await user('instructor');
const baselineStudent = await user('student');
const baseline = await timeEach(ROUNDS, () => asStudent(baselineStudent, 'select 1', []));
console.log(`baseline transaction (begin, role switch, select 1, commit): ${baseline.toFixed(3)} ms`);
console.log('lessons  completeLesson ms  ratio to baseline');
for (const size of [10, 100, 500]) {
  const c = await course(size, teacher);
  const count = Math.min(ROUNDS, size);
  const students = await Promise.all(Array.from({ length: Math.ceil(ROUNDS / count) }, () => user('student')));
  for (const s of students) await asStudent(s, 'select lms_public.enroll($1)', [c.id]);
  const ms = await timeEach(ROUNDS, (i) => asStudent(students[Math.floor(i / count)]!, 'select lms_public.complete_lesson($1)', [c.lessonIds[i % count]]));
  console.log(`${String(size).padStart(7)}  ${ms.toFixed(3).padStart(17)}  ${(ms / baseline).toFixed(2).padStart(17)}`);
}

console.log('enrollments  add a lesson (recalculates every enrollment) ms  per enrollment ms');
for (const enrollments of [100, 1000]) {
  const c = await course(20, teacher);
  await root.query(
    `with s as (insert into lms_public.users (email, full_name) select gen_random_uuid() || '@bench.test', 'B' from generate_series(1, $2) returning id),
          p as (insert into lms_private.user_passwords select id, 'x' from s)
     insert into lms_public.enrollments (student_id, course_id) select id, $1 from s`,
    [c.id, enrollments],
  );
  const start = performance.now();
  await root.query("insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'New', 'text')", [c.id]);
  const ms = performance.now() - start;
  console.log(`${String(enrollments).padStart(11)}  ${ms.toFixed(1).padStart(51)}  ${(ms / enrollments).toFixed(3).padStart(17)}`);
}

await Promise.all([root.end(), auth.end()]);
await cluster.stop();
