import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedPostgres } from '../../src/db/embedded.ts';
import { createMigratedDatabase } from '../../src/db/scratch-cluster.ts';
import { projectPath } from '../../src/paths.ts';
import { eventually } from './eventually.ts';

/*
 * Fault tests stop and start PostgreSQL under real processes, so each gets a cluster of its own
 * (the suite's shared one must stay up), on a fixed port in 54420-54429 that no other test uses.
 */

export interface FaultCluster {
  /** The migrated database, as a superuser: what an operator's DATABASE_URL is in development. */
  readonly url: string;
  readonly root: pg.Pool;
  /** Where spawned processes keep their storage (certificate PDFs) and outbox. */
  readonly dataDir: string;
  /** Stops PostgreSQL (fast shutdown: every connection is cut, as in a crash or a failover). */
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startFaultCluster(port: number): Promise<FaultCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coursebase-faults-'));
  fs.chmodSync(dir, 0o755);
  const cluster = new EmbeddedPostgres({ dataDir: path.join(dir, 'cluster'), port, password: 'coursebase_faults' });
  await cluster.start();
  await createMigratedDatabase(cluster.superuserUrl('postgres'), 'coursebase_faults');
  const url = cluster.superuserUrl('coursebase_faults');
  const root = new pg.Pool({ connectionString: url, max: 3 });
  // The pool's idle connections die with PostgreSQL; that is the point of these tests.
  root.on('error', () => {});
  const dataDir = path.join(dir, 'data');
  return {
    url,
    root,
    dataDir,
    stopPostgres: () => cluster.stop(),
    startPostgres: () => cluster.start(),
    async destroy() {
      await root.end();
      await cluster.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Spawned {
  readonly child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

/** Runs bin/<script>.ts as an operator would, against the fault cluster. */
export function spawnProcess(script: 'worker' | 'start' | 'serve', cluster: FaultCluster, env: Record<string, string> = {}): Spawned {
  let output = '';
  const child = spawn(process.execPath, [projectPath('bin', `${script}.ts`)], {
    cwd: projectPath(),
    env: {
      ...process.env,
      NODE_ENV: 'development',
      DATABASE_URL: cluster.url,
      PORT: '0',
      LMS_DATA_DIR: cluster.dataDir,
      LMS_PUBLIC_URL: 'https://learn.example.test',
      LMS_DEMO_DATA: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => output,
    waitFor: (pattern, timeoutMs = 30_000) =>
      eventually(
        () => Promise.resolve(pattern.exec(output) ?? undefined),
        () => `${pattern}; output so far:\n${output}`,
        timeoutMs,
      ),
  };
}

/**
 * Completes `n` enrollments of a one-lesson course at once, which queues n certificates__issue
 * jobs: enough work (a PDF each) that a fault can land while jobs run. Returns the enrollment ids.
 */
export async function queueCertificates(root: pg.Pool, n: number): Promise<string[]> {
  const tag = `${process.pid}-${Date.now()}`;
  const { rows } = await root.query<{ id: string }>(
    `with teacher as (
       insert into lms_public.users (email, full_name, role) values ('teacher-' || $2 || '@example.test', 'Omar Haddad', 'instructor') returning id
     ), course as (
       insert into lms_public.courses (title, slug, instructor_id, is_published) select 'Faults', 'faults-' || $2, id, true from teacher returning id
     ), lesson as (
       insert into lms_public.lessons (course_id, title, lesson_type) select id, 'Only', 'text' from course returning id, course_id
     ), students as (
       insert into lms_public.users (email, full_name, role)
       select 'student-' || $2 || '-' || i || '@example.test', 'Student ' || i, 'student' from generate_series(1, $1) i returning id
     ), passwords as (
       -- Every user needs a password row by commit; nobody signs in here, so the cheapest hash.
       insert into lms_private.user_passwords (user_id, password_hash)
       select id, crypt('unused', gen_salt('bf', 4)) from (select id from teacher union all select id from students) u
     )
     insert into lms_public.enrollments (student_id, course_id) select s.id, l.course_id from students s, lesson l returning id`,
    [n, tag],
  );
  const ids = rows.map((r) => r.id);
  await root.query(
    `insert into lms_public.lesson_progress (enrollment_id, lesson_id, status, started_at, completed_at)
     select e.id, l.id, 'completed', now(), now() from lms_public.enrollments e join lms_public.lessons l using (course_id) where e.id = any($1)`,
    [ids],
  );
  return ids;
}

/** How many of the enrollments have a signed certificate. */
export async function signedCertificates(root: pg.Pool, enrollmentIds: readonly string[]): Promise<number> {
  const { rows } = await root.query<{ n: number }>(
    'select count(*)::int as n from lms_public.certificates where enrollment_id = any($1) and signature is not null',
    [enrollmentIds],
  );
  return rows[0]!.n;
}

/** Jobs locked by some worker right now. */
export async function lockedJobs(root: pg.Pool): Promise<number> {
  const { rows } = await root.query<{ n: number }>('select count(*)::int as n from graphile_worker._private_jobs where locked_at is not null');
  return rows[0]!.n;
}

/** Exactly one certificate per enrollment: one row, one number and one PDF each, every PDF on disk. */
export async function expectOneCertificateEach(cluster: FaultCluster, enrollmentIds: readonly string[]): Promise<void> {
  const { rows } = await cluster.root.query<{ n: number; numbers: number; files: number; paths: string[] }>(
    `select count(*)::int as n, count(distinct certificate_number)::int as numbers, count(distinct pdf_path)::int as files,
            array_agg(pdf_path) as paths
     from lms_public.certificates where enrollment_id = any($1)`,
    [enrollmentIds],
  );
  expect(rows[0]).toMatchObject({ n: enrollmentIds.length, numbers: enrollmentIds.length, files: enrollmentIds.length });
  for (const p of rows[0]!.paths) expect(fs.existsSync(path.join(cluster.dataDir, 'storage', p))).toBe(true);
}
