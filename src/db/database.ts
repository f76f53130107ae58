import path from 'node:path';
import type { Config } from '../config.ts';
import { resolveConnections, type Connections } from './connections.ts';
import { EmbeddedPostgres } from './embedded.ts';

/** The embedded cluster listens on localhost only and exists only in development. */
export const EMBEDDED_SUPERUSER_PASSWORD = 'coursebase_embedded_dev';

/** Where the embedded cluster archives its WAL: beside its base backups, under LMS_DATA_DIR. */
export function walArchiveDir(config: Config): string {
  return path.join(config.dataDir, 'backups', 'wal');
}

/** Where `db:backup` and the daily job put base backups unless told otherwise. */
export function baseBackupsDir(config: Config): string {
  return path.join(config.dataDir, 'backups', 'base');
}

export interface Database {
  readonly connections: Connections;
  readonly embedded: EmbeddedPostgres | undefined;
  /** Stops the embedded cluster, if we started one; call it after every pool is closed. */
  stop(): Promise<void>;
}

/** Connects to DATABASE_URL, or starts the embedded PostgreSQL 16 when it is unset. */
export async function openDatabase(config: Config, log: (line: string) => void): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  if (config.databaseUrl === undefined) {
    embedded = new EmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPgPort,
      password: EMBEDDED_SUPERUSER_PASSWORD,
      archiveDir: walArchiveDir(config),
      log: (line) => log(`[postgres] ${line}`),
    });
    await embedded.start();
    log(`embedded PostgreSQL 16 on localhost:${config.embeddedPgPort}, data in ${embedded.pgDataDir}`);
  }
  try {
    const connections = await resolveConnections(config, embedded?.superuserUrl());
    return { connections, embedded, stop: async () => embedded?.stop() };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}
