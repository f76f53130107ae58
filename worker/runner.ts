import { EventEmitter } from 'node:events';
import os from 'node:os';
import pg from 'pg';
import { run, Logger, type Runner, type WorkerEvents } from 'graphile-worker';
import type { Config } from '../src/config.ts';
import { logger } from '../src/log.ts';
import { timeoutSettings } from '../src/db/pools.ts';
import { makeTaskList } from './tasks/index.ts';
import { crontabFor } from './crontab.ts';

const log = logger('worker');

export interface Worker {
  /** Lets running jobs finish and their outcome be recorded, then closes the worker's connections. */
  stop(): Promise<void>;
}

/** How long to wait between attempts to reach a database that went away: 0.5 s, doubling, at most 15 s. */
function reconnectDelay(attempt: number): number {
  return Math.min(15_000, 500 * 2 ** attempt);
}

/**
 * Starts graphile-worker as the schema owner, on a pool of our own (its runner.stop() does not
 * wait for its connections to close, and the database must not stop before they have), and keeps
 * it running across database outages. Signals are ours to handle (see bin/process.ts).
 *
 * Two settings of graphile-worker 0.18 matter here (read in node_modules/graphile-worker/dist/main.js):
 * - With the default batch delays (-1), a job's completion or failure is written by a promise
 *   nobody awaits: on a dead connection it rejects unhandled, which kills the process, and
 *   gracefulShutdown() does not wait for it, so closing the pool after stop() lost the last
 *   completions. With a delay of 0 the same writes go through a batcher whose errors reach a
 *   handler, and whose release() the pool's terminate() awaits: stop() then returns only once
 *   every finished job is recorded.
 * - A batcher that cannot write (the database went away) shuts its worker pool down, leaving
 *   the jobs it could not record locked by that pool. The runner then resolves as if stopped;
 *   we did not ask it to, so we wait for the database, release that pool's jobs with
 *   force_unlock_workers (the pool is gone: nothing of it runs them any more) and start a new
 *   runner. Those jobs run again, which the tasks are written to survive (idempotent).
 *
 * Each pool also keeps a heartbeat row in lms_private.worker_heartbeats, and every worker
 * releases the jobs of pools whose heartbeat has gone stale (a worker killed with -9, a machine
 * that died): see docs/operations.md.
 */
export async function startWorker(config: Config, ownerUrl: string): Promise<Worker> {
  const pgPool = new pg.Pool({ connectionString: ownerUrl, max: config.workerConcurrency + 3, ...timeoutSettings(config.timeouts.workerStatement, config) });
  pgPool.on('error', (error) => log(`idle worker connection failed: ${error.message}`));
  // A checked-out client's socket can fail too; graphile-worker asks for both handlers.
  pgPool.on('connect', (client) => client.on('error', (error) => log(`worker connection failed: ${error.message}`)));
  const taskList = makeTaskList(config);
  const hostname = os.hostname();

  let stopping = false;
  let runner: Runner | undefined;
  /** Settles once the current runner's worker pool has shut down (all its workers stopped), however that came about. */
  let poolEnded: Promise<void> = Promise.resolve();
  /** The current worker pool's id: graphile-worker locks jobs under it (locked_by). */
  let poolId: string | undefined;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      // A wait for the database must not keep a stopped process alive.
      timer.unref();
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const startRunner = async (): Promise<Runner> => {
    const events: WorkerEvents = new EventEmitter();
    events.on('pool:create', ({ workerPool }) => {
      poolId = workerPool.id;
    });
    /*
     * Not runner.promise alone: after two batches fail to write, the batcher's count of pending
     * writes goes wrong and the pool's terminate() waits on it forever, so runner.promise never
     * settles. By these events every worker of the pool has stopped, which is what we need to know.
     */
    poolEnded = new Promise<void>((resolve) => {
      events.once('pool:gracefulShutdown:complete', () => resolve());
      events.once('pool:gracefulShutdown:error', () => resolve());
    });
    return run({
      pgPool,
      events,
      concurrency: config.workerConcurrency,
      noHandleSignals: true,
      pollInterval: 2000,
      preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      taskList,
      crontab: crontabFor(config),
      logger: new Logger((scope) => (level, message) => {
        if (level === 'debug') return;
        log(`${scope.taskIdentifier ? `${scope.taskIdentifier}: ` : ''}${message}`);
      }),
    });
  };

  /** Records that this pool is alive, and releases the jobs of pools that stopped saying so. */
  const beat = async () => {
    if (poolId === undefined) return;
    await pgPool.query('select lms_private.record_worker_heartbeat($1, $2, $3)', [poolId, hostname, process.pid]);
    const { rows } = await pgPool.query<{ pool_id: string; jobs: number }>('select * from lms_private.unlock_dead_workers($1)', [config.workerStaleSeconds]);
    for (const dead of rows) {
      log(`worker pool ${dead.pool_id} sent no heartbeat for ${config.workerStaleSeconds} s: released its ${dead.jobs} locked job(s)`);
    }
  };
  let beating: Promise<void> = Promise.resolve();
  const heartbeat = setInterval(() => {
    // One beat at a time; a failed one (the database is away) is retried at the next tick.
    beating = beating.then(beat).catch((error: Error) => log(`heartbeat failed: ${error.message}`));
  }, config.workerHeartbeatSeconds * 1000);

  /** Runs the current runner until it ends; if we did not stop it, starts another once the database answers. */
  const supervise = async (): Promise<void> => {
    while (!stopping && runner) {
      await Promise.race([runner.promise.catch((error: Error) => log(`worker pool failed: ${error.message}`)), poolEnded]);
      if (stopping) return;
      const lost = poolId;
      log(`worker pool ${lost ?? '?'} stopped on its own (the database went away?); reconnecting`);
      // Releases the runner's cron; its pool has already stopped, so this does not wait on it.
      const ended = runner;
      runner = undefined;
      await Promise.race([ended.stop().catch(() => {}), sleep(5000)]);
      for (let attempt = 0; !stopping; attempt++) {
        await sleep(reconnectDelay(attempt));
        if (stopping) return;
        try {
          // That pool has ended, so the jobs still locked by it run nowhere: release them now.
          if (lost !== undefined) await pgPool.query('select lms_private.release_worker_pool($1)', [lost]);
          runner = await startRunner();
          log(`worker reconnected after ${attempt + 1} attempt(s); pool ${poolId ?? '?'} running`);
          beating = beating.then(beat).catch((error: Error) => log(`heartbeat failed: ${error.message}`));
          break;
        } catch (error) {
          log(`database still unavailable (attempt ${attempt + 1}): ${(error as Error).message}`);
        }
      }
    }
  };

  try {
    runner = await startRunner();
    await beat();
  } catch (error) {
    clearInterval(heartbeat);
    await runner?.stop().catch(() => {});
    await pgPool.end();
    throw error;
  }
  const supervising = supervise();

  return {
    async stop() {
      stopping = true;
      wake?.();
      clearInterval(heartbeat);
      await beating;
      const current = runner;
      if (current) {
        log('worker stopping: waiting for running jobs to finish and be recorded');
        // Rejects only when the runner had already ended on its own; supervise() has seen to that.
        const stopped = current.stop().catch((error: Error) => log(`worker pool already stopped: ${error.message}`));
        // Once every worker has stopped, a completion the database refused cannot be written anyway.
        await Promise.race([stopped, poolEnded.then(() => new Promise((r) => setTimeout(r, 2000).unref()))]);
      }
      await supervising;
      // A stopped pool holds no jobs; its heartbeat row would only look like a dead worker's.
      if (poolId !== undefined) {
        await pgPool
          .query('select lms_private.release_worker_pool($1)', [poolId])
          .catch((error: Error) => log(`could not remove the heartbeat: ${error.message}`));
      }
      await pgPool.end();
      log('worker stopped');
    },
  };
}
