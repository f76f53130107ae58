import { run, Logger, type Runner } from 'graphile-worker';
import type { Config } from '../src/config.ts';
import { logger } from '../src/log.ts';
import { makeTaskList } from './tasks/index.ts';
import { crontab } from './crontab.ts';

const log = logger('worker');

/** Starts graphile-worker as the schema owner. Signals are ours to handle (see src/process.ts). */
export function startWorker(config: Config, ownerUrl: string): Promise<Runner> {
  return run({
    connectionString: ownerUrl,
    concurrency: config.workerConcurrency,
    noHandleSignals: true,
    pollInterval: 2000,
    taskList: makeTaskList(config),
    crontab,
    logger: new Logger((scope) => (level, message) => {
      if (level === 'debug') return;
      log(`${scope.taskIdentifier ? `${scope.taskIdentifier}: ` : ''}${message}`);
    }),
  });
}
