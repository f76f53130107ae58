import fs from 'node:fs';
import path from 'node:path';
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
 * A worker killed with -9 in the middle of certificates leaves its jobs locked; graphile-worker
 * alone would leave them for four hours. Another worker sees the dead one's heartbeat go stale
 * and releases them, and every certificate is issued exactly once.
 */

let cluster: FaultCluster;
const running: Spawned[] = [];
// Short, so that the test waits seconds: a pool silent for 5 s is dead.
const beat = { LMS_WORKER_HEARTBEAT_SECONDS: '1', LMS_WORKER_STALE_SECONDS: '5' };

beforeAll(async () => {
  cluster = await startFaultCluster(54425);
}, 60_000);

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await cluster.destroy();
});

it('releases the jobs of a worker killed with -9, and every certificate is issued exactly once within a minute', async () => {
  const doomed = spawnProcess('worker', cluster, { ...beat, LMS_WORKER_CONCURRENCY: '4' });
  running.push(doomed);
  await doomed.waitFor(/worker running/);
  const enrollments = await queueCertificates(cluster.root, 120);
  // Mid-certificate: some signed, and jobs locked by the worker right now.
  await eventually(
    async () => ((await signedCertificates(cluster.root, enrollments)) >= 5 && (await lockedJobs(cluster.root)) > 0 ? true : undefined),
    'certificates under way',
    30_000,
  );
  doomed.child.kill('SIGKILL');
  await doomed.exited;
  const started = Date.now();
  const { rows: orphaned } = await cluster.root.query<{ pool_id: string }>(
    'select distinct locked_by as pool_id from graphile_worker._private_jobs where locked_at is not null',
  );
  expect(orphaned.length).toBeGreaterThan(0);

  const rescuer = spawnProcess('worker', cluster, beat);
  running.push(rescuer);
  await eventually(
    async () => ((await signedCertificates(cluster.root, enrollments)) === enrollments.length ? true : undefined),
    () => `every certificate; the rescuer said:\n${rescuer.output().slice(-4000)}`,
    60_000,
  );
  expect(Date.now() - started).toBeLessThan(60_000);
  expect(rescuer.output()).toMatch(new RegExp(`worker pool ${orphaned[0]!.pool_id} sent no heartbeat for 5 s: released its \\d+ locked job\\(s\\)`));

  // Exactly once: one certificate row and one PDF per enrollment, and nothing left queued or locked.
  await expectOneCertificateEach(cluster, enrollments);
  expect(fs.readdirSync(path.join(cluster.dataDir, 'storage', 'certificates')).filter((f) => f.endsWith('.pdf'))).toHaveLength(enrollments.length);
  await eventually(async () => ((await lockedJobs(cluster.root)) === 0 ? true : undefined), 'no job left locked', 10_000);
  const { rows: left } = await cluster.root.query(
    "select 1 from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id where t.identifier = 'certificates__issue'",
  );
  expect(left).toEqual([]);

  rescuer.child.kill('SIGTERM');
  expect(await rescuer.exited).toBe(0);
}, 120_000);
