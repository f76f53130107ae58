import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from '../src/config.ts';
import { openDatabase, type Database } from '../src/db/database.ts';
import { migrateDatabase } from '../src/db/migrate.ts';
import { makeApiPools } from '../src/db/pools.ts';
import { describeDemoAccounts, seedDemo } from '../src/db/seed.ts';
import { createApi } from '../src/server/app.ts';
import { isConnectionError } from '../src/server/availability.ts';
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
      // A lost database is logged once per outage by the API's availability watch, not once per connection.
      const pools = makeApiPools(config, database.connections.authUrl, (e) => {
        if (!isConnectionError(e)) log(`idle API connection failed: ${e.message}`);
      });
      const api = createApi(config, pools);
      const server = http.createServer(api.app);
      await api.attach(server);
      steps.pools.push(async () => {
        api.availability.close();
        await api.pgl.release();
        await pools.end();
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, () => resolve());
      });
      steps.server.push(() => drainAndClose(server, api, config));
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

/**
 * The API's shutdown, each step logged: report draining (/healthz 503, `Connection: close` on
 * every response) while still accepting for LMS_SHUTDOWN_DRAIN_SECONDS, so that a load balancer
 * takes the process out; then stop accepting and let in-flight requests finish for up to
 * LMS_SHUTDOWN_GRACE_SECONDS; then close what is left.
 */
async function drainAndClose(server: http.Server, api: ReturnType<typeof createApi>, config: Config): Promise<void> {
  api.drain();
  log(`draining: /healthz answers 503 and responses close their connections; still accepting for ${config.shutdownDrainSeconds} s`);
  // Idle keep-alive connections carry no request: close them now, so clients reconnect elsewhere.
  server.closeIdleConnections();
  if (config.shutdownDrainSeconds > 0) await new Promise((r) => setTimeout(r, config.shutdownDrainSeconds * 1000));
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  log(`no longer accepting connections; waiting up to ${config.shutdownGraceSeconds} s for ${api.inFlight()} in-flight request(s)`);
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'grace over'>((resolve) => {
    timer = setTimeout(() => resolve('grace over'), config.shutdownGraceSeconds * 1000);
  });
  if ((await Promise.race([closed, graceOver])) === 'grace over') {
    log(`grace period over: closing the connections of ${api.inFlight()} request(s) still running`);
    server.closeAllConnections();
    await closed;
  } else {
    log('every in-flight request finished; HTTP server closed');
  }
  clearTimeout(timer);
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
