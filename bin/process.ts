import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from '../src/config.ts';
import { openDatabase, type Database } from '../src/db/database.ts';
import { migrateDatabase } from '../src/db/migrate.ts';
import { makeApiPools } from '../src/db/pools.ts';
import { describeDemoAccounts, seedDemo } from '../src/db/seed.ts';
import { createApi } from '../src/server/app.ts';
import { GRAPHIQL_PATH, GRAPHQL_PATH } from '../src/server/preset.ts';
import { startWorker } from '../worker/runner.ts';
import { logger } from '../src/log.ts';

export interface ProcessOptions {
  /** Only the single-process `npm start` migrates: graphile-migrate takes a lock and fails if it is held. */
  readonly migrate: boolean;
  readonly api: boolean;
  readonly worker: boolean;
}

export interface Running {
  readonly config: Config;
  readonly database: Database;
  readonly url: string | undefined;
  /** Stops accepting requests, lets running jobs finish, closes pools, then stops the embedded database. */
  stop(): Promise<void>;
}

const log = logger('coursebase');

export async function startProcess(options: ProcessOptions, config: Config = loadConfig()): Promise<Running> {
  if (!options.migrate && config.databaseUrl === undefined) {
    throw new Error('`serve` and `worker` join an existing database: set DATABASE_URL (`npm start` runs the embedded one)');
  }
  const database = await openDatabase(config, log);
  // Shutdown order: stop taking requests, let jobs finish, close the pools, stop the database.
  const steps: Record<'server' | 'worker' | 'pools', Array<() => Promise<void>>> = { server: [], worker: [], pools: [] };
  const stopAll = async () => {
    for (const step of [steps.server, steps.worker, steps.pools]) {
      for (const stop of step.splice(0)) await stop().catch((e) => log(`shutdown step failed: ${String(e)}`));
    }
    await database.stop();
  };
  try {
    if (options.migrate) {
      await migrateDatabase(database.connections, log);
      // The embedded database gets the demo on its first start; DATABASE_URL only on request.
      if (config.demoData && (await seedDemo(database.connections.ownerUrl, config.bcryptCost, { onlyIfEmpty: config.databaseUrl === undefined }))) {
        log(['demo data written; development-only accounts:', ...describeDemoAccounts()].join('\n'));
      }
    }

    let url: string | undefined;
    if (options.api) {
      const pools = makeApiPools(config, database.connections.authUrl, (e) => log(`idle API connection failed: ${e.message}`));
      const api = createApi(config, pools);
      const server = http.createServer(api.app);
      await api.attach(server);
      steps.pools.push(async () => {
        await api.pgl.release();
        await pools.end();
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, () => resolve());
      });
      steps.server.push(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
            setTimeout(() => server.closeAllConnections(), 10_000).unref();
          }),
      );
      const port = (server.address() as AddressInfo).port;
      url = `http://localhost:${port}`;
      log(`GraphQL API: ${url}${GRAPHQL_PATH}`);
      if (!config.isProduction) log(`GraphiQL: ${url}${GRAPHIQL_PATH}`);
      log(`health: ${url}/healthz`);
    }

    if (options.worker) {
      const worker = await startWorker(config, database.connections.ownerUrl);
      steps.worker.push(() => worker.stop());
      log(`worker running (concurrency ${config.workerConcurrency})`);
    }
    return { config, database, url, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Runs a process until SIGINT or SIGTERM; a second signal forces the exit. */
export async function main(options: ProcessOptions): Promise<void> {
  let running: Running;
  try {
    running = await startProcess(options);
  } catch (error) {
    log(`failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
    return;
  }
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: shutting down`);
    running.stop().then(
      () => log('stopped'),
      (e) => {
        log(`shutdown failed: ${String(e)}`);
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
