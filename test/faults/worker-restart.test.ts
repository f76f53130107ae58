import { eventually } from '../support/eventually.ts';
import {
  expectOneCertificateEach,
  lockedJobs,
  queueCertificates,
  signedCertificates,
  spawnProcess,
  startFaultCluster,
  type FaultCluster,
  type Spawned,
} from '../support/fault-cluster.ts';

/*
 * A real worker process (`npm run worker`) under real faults, on a cluster of its own:
 * PostgreSQL stopped and started while certificate jobs run; SIGTERM in the middle of a queue.
 */

let cluster: FaultCluster;
const running: Spawned[] = [];

beforeAll(async () => {
  cluster = await startFaultCluster(54424);
}, 60_000);

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await cluster.destroy();
});

it('survives PostgreSQL stopping and starting under running jobs, and finishes every one of them', async () => {
  const worker = spawnProcess('worker', cluster, { LMS_WORKER_CONCURRENCY: '4' });
  running.push(worker);
  await worker.waitFor(/worker running/);
  const enrollments = await queueCertificates(cluster.root, 150);
  await eventually(async () => ((await signedCertificates(cluster.root, enrollments)) >= 10 ? true : undefined), 'the first certificates', 30_000);

  await cluster.stopPostgres();
  await worker.waitFor(/(connection|database|Connection)[^\n]*(terminat|refused|shut|unavailable|went away)/i);
  await new Promise((r) => setTimeout(r, 3000));
  expect(worker.child.exitCode).toBeNull();
  await cluster.startPostgres();

  await eventually(
    async () => ((await signedCertificates(cluster.root, enrollments)) === enrollments.length ? true : undefined),
    () => `every certificate; the worker said:\n${worker.output().slice(-6000)}`,
    60_000,
  );
  await eventually(async () => ((await lockedJobs(cluster.root)) === 0 ? true : undefined), 'no job left locked', 30_000);
  expect(worker.child.exitCode).toBeNull();
  await expectOneCertificateEach(cluster, enrollments);
  if (process.env.SHOW_OUTPUT) process.stderr.write(worker.output());

  worker.child.kill('SIGTERM');
  expect(await worker.exited).toBe(0);
}, 120_000);

it('on SIGTERM mid-queue, records every job it finished and leaves none locked', async () => {
  const worker = spawnProcess('worker', cluster, { LMS_WORKER_CONCURRENCY: '4' });
  running.push(worker);
  await worker.waitFor(/worker running/);
  const enrollments = await queueCertificates(cluster.root, 150);
  await eventually(async () => ((await signedCertificates(cluster.root, enrollments)) >= 10 ? true : undefined), 'the first certificates', 30_000);

  worker.child.kill('SIGTERM');
  expect(await worker.exited).toBe(0);
  expect(worker.output()).toMatch(/waiting for running jobs to finish and be recorded[\s\S]*worker stopped[\s\S]*stopped/);
  expect(await lockedJobs(cluster.root)).toBe(0);
  // Every job that finished is recorded: no signed certificate still has its job queued.
  const { rows } = await cluster.root.query<{ n: number }>(
    `select count(*)::int as n from graphile_worker._private_jobs j
     join lms_public.certificates c on c.enrollment_id = (j.payload->>'enrollmentId')::uuid
     where c.signature is not null and c.enrollment_id = any($1)`,
    [enrollments],
  );
  expect(rows[0]!.n).toBe(0);
  const { rows: heartbeats } = await cluster.root.query('select * from lms_private.worker_heartbeats');
  expect(heartbeats).toEqual([]);

  // The rest of the queue is still there, and the next worker finishes it.
  const next = spawnProcess('worker', cluster);
  running.push(next);
  await eventually(async () => ((await signedCertificates(cluster.root, enrollments)) === enrollments.length ? true : undefined), 'every certificate', 60_000);
  await expectOneCertificateEach(cluster, enrollments);
  next.child.kill('SIGTERM');
  expect(await next.exited).toBe(0);
}, 120_000);
