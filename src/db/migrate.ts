import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { migrate, Logger as MigrateLogger } from 'graphile-migrate';
// graphile-migrate keeps its pools for 200 ms after use and exits the process if one errors.
import { clearAllPools } from 'graphile-migrate/dist/pgReal.js';
import { runMigrations as runWorkerMigrations, Logger as WorkerLogger } from 'graphile-worker';
import { DEV_ROLE_PASSWORDS, type Connections } from './connections.ts';
import { projectPath } from '../paths.ts';

export type Log = (message: string) => void;

/** Creates the roles and hands the database to lms_owner (db/roles.sql); idempotent. */
export async function bootstrapRoles(rootUrl: string, devPasswords: boolean): Promise<void> {
  const sql = await fs.readFile(projectPath('db', 'roles.sql'), 'utf8');
  const client = new pg.Client({ connectionString: rootUrl });
  await client.connect();
  try {
    await client.query(sql);
    if (devPasswords) {
      for (const [role, password] of Object.entries(DEV_ROLE_PASSWORDS)) {
        const { rows } = await client.query<{ missing: boolean }>('select rolpassword is null as missing from pg_authid where rolname = $1', [role]);
        if (rows[0]?.missing) {
          await client.query(`alter role ${client.escapeIdentifier(role)} password ${client.escapeLiteral(password)}`);
        }
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * Brings a database to the latest committed migration: roles (when a root connection is
 * available), graphile-worker's schema, then graphile-migrate's committed migrations.
 * Every step is idempotent, and only one process should run it at a time.
 */
export async function migrateDatabase(connections: Connections, log: Log = () => {}, migrationsFolder = projectPath('migrations')): Promise<void> {
  if (connections.rootUrl !== undefined) {
    log('bootstrapping roles');
    await bootstrapRoles(connections.rootUrl, connections.devPasswords);
  }
  log('installing the graphile-worker schema');
  await runWorkerMigrations({
    connectionString: connections.ownerUrl,
    logger: new WorkerLogger(() => (level, message) => {
      if (level === 'error' || level === 'warning') log(message);
    }),
  });
  log('applying committed migrations');
  await migrate({
    connectionString: connections.ownerUrl,
    rootConnectionString: connections.rootUrl ?? connections.ownerUrl,
    migrationsFolder: path.relative(process.cwd(), migrationsFolder) || '.',
    logger: new MigrateLogger(() => (_level, message) => log(message)),
  });
  clearAllPools();
}
