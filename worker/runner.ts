import pg from 'pg';
import { run, Logger } from 'graphile-worker';
import type { Config } from '../src/config.ts';
import { logger } from '../src/log.ts';
import { timeoutSettings } from '../src/db/pools.ts';
import { makeTaskList } from './tasks/index.ts';
import { crontabFor } from './crontab.ts';

const log = logger('worker');

export interface Worker {
  /** Lets running jobs finish (or releases them), then closes the worker's connections. */
  stop(): Promise<void>;
}

/**
 * Starts graphile-worker as the schema owner, on a pool of our own: its runner.stop() does not
 * wait for its connections to close, and the database must not stop before they have.
 * Signals are ours to handle (see bin/process.ts).
 */
export async function startWorker(config: Config, ownerUrl: string): Promise<Worker> {
  const pgPool = new pg.Pool({ connectionString: ownerUrl, max: config.workerConcurrency + 2, ...timeoutSettings(config.timeouts.workerStatement, config) });
  pgPool.on('error', (error) => log(`idle worker connection failed: ${error.message}`));
  // A checked-out client's socket can fail too; graphile-worker asks for both handlers.
  pgPool.on('connect', (client) => client.on('error', (error) => log(`worker connection failed: ${error.message}`)));
  try {
    const runner = await run({
      pgPool,
      concurrency: config.workerConcurrency,
      noHandleSignals: true,
      pollInterval: 2000,
      taskList: makeTaskList(config),
      crontab: crontabFor(config),
      logger: new Logger((scope) => (level, message) => {
        if (level === 'debug') return;
        log(`${scope.taskIdentifier ? `${scope.taskIdentifier}: ` : ''}${message}`);
      }),
    });
    return {
      async stop() {
        await runner.stop();
        await pgPool.end();
      },
    };
  } catch (error) {
    await pgPool.end();
    throw error;
  }
}
