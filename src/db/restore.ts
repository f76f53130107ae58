import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  BackupCorruptError,
  compareWithManifest,
  databaseChecksums,
  fileExists,
  loadLogical,
  releaseDeadWorkersJobs,
  verifyBackupFiles,
  type Log,
  type Manifest,
} from './backup.ts';
import { databaseName, resolveConnections } from './connections.ts';
import { EmbeddedPostgres, handToPostgres, shellQuote } from './embedded.ts';
import { migrateDatabase } from './migrate.ts';
import { freePort } from './scratch-cluster.ts';
import { loadConfig } from '../config.ts';
import { projectPath } from '../paths.ts';

/*
 * Restores never overwrite: into a data folder that does not exist yet (or is empty), or into a
 * database that is new (or has no tables of ours). Every file is checked against the manifest
 * before anything is written, and the restored tables after.
 */

/** Where to stop replaying: the backup's own snapshot, a moment, or the end of the archived WAL. */
export type RecoveryTarget = { kind: 'backup' } | { kind: 'time'; at: Date } | { kind: 'latest' };

export interface RestoreReport {
  readonly manifest: Manifest;
  readonly lines: string[];
  /** Rows per table in the restored database. */
  readonly tables: Record<string, { rows: number; checksum: string }>;
}

async function isEmptyOrAbsent(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}

const confString = (value: string) => `'${value.replace(/'/g, "''")}'`;

export interface PhysicalRestoreOptions {
  readonly backupDir: string;
  /** A new LMS_DATA_DIR: the cluster goes into pg/, the files into storage/ and outbox/. */
  readonly into: string;
  readonly target: RecoveryTarget;
  /** The WAL archive to roll forward from; the manifest's by default. */
  readonly walArchive?: string | undefined;
  /** The embedded superuser's password, which the copied cluster keeps. */
  readonly password: string;
  readonly log?: Log;
}

/**
 * A physical restore: the base backup into a new data folder, recovery to the target from the
 * backup's own WAL and then the archive, started on a free port to check it, then stopped.
 */
export async function restorePhysical(options: PhysicalRestoreOptions): Promise<RestoreReport> {
  const log = options.log ?? (() => {});
  const into = path.resolve(options.into);
  if (!(await isEmptyOrAbsent(into))) throw new Error(`refusing to restore into ${into}: it exists and is not empty (restores never overwrite)`);
  const manifest = await verifyBackupFiles(options.backupDir);
  const lines = [`checked ${countFiles(manifest)} files against their sha256 in the manifest`];
  if (!manifest.physical)
    throw new Error('this backup has no physical part (it was taken from an external DATABASE_URL): restore it into a database with --into <database URL>');
  const walArchive = options.walArchive ?? manifest.physical.walArchive;
  if (options.target.kind !== 'backup' && !(walArchive && (await fileExists(walArchive)))) {
    throw new Error(`a point-in-time restore needs the WAL archive (${walArchive ?? 'none recorded'}); pass --wal <folder>`);
  }
  if (options.target.kind === 'time' && options.target.at.getTime() < Date.parse(manifest.logical.snapshotAt)) {
    throw new Error(`${options.target.at.toISOString()} is before this backup was taken (${manifest.logical.snapshotAt}): restore an older backup`);
  }

  await fs.mkdir(into, { recursive: true });
  const pgDir = path.join(into, 'pg');
  await fs.cp(path.join(options.backupDir, 'pg'), pgDir, { recursive: true });
  // The WAL the backup needs goes where recovery looks after restore_command: pg_wal itself.
  await fs.cp(path.join(options.backupDir, 'wal'), path.join(pgDir, 'pg_wal'), { recursive: true });
  await fs.mkdir(path.join(pgDir, 'pg_wal', 'archive_status'), { recursive: true });
  await fs.chmod(pgDir, 0o700);
  const settings: Record<string, string> = {
    restore_command: walArchive ? `cp ${shellQuote(path.join(walArchive, '%f'))} "%p"` : 'false',
    recovery_target_action: 'promote',
  };
  if (options.target.kind === 'backup') {
    // Stop just before the first record at the snapshot's position: every commit before it is in
    // the snapshot, and the backup wrote a restore point after it so that such a record exists.
    settings.recovery_target_lsn = manifest.logical.snapshotLsn;
    settings.recovery_target_inclusive = 'off';
  }
  // PostgreSQL's check of this setting refuses ISO 8601's T and Z.
  if (options.target.kind === 'time') settings.recovery_target_time = options.target.at.toISOString().replace('T', ' ').replace('Z', '+00');
  await fs.appendFile(
    path.join(pgDir, 'postgresql.auto.conf'),
    Object.entries(settings)
      .map(([k, v]) => `${k} = ${confString(v)}\n`)
      .join(''),
  );
  await fs.writeFile(path.join(pgDir, 'recovery.signal'), '');
  await handToPostgres(pgDir);
  log(
    `recovering into ${pgDir} (${options.target.kind === 'time' ? `to ${options.target.at.toISOString()}` : options.target.kind === 'latest' ? 'to the end of the archived WAL' : `to the backup's snapshot, ${manifest.logical.snapshotLsn}`})`,
  );

  const cluster = new EmbeddedPostgres({ dataDir: into, port: await freePort(), password: options.password, archiveDir: path.join(into, 'backups', 'wal') });
  const started = Date.now();
  await cluster.start();
  let tables: Record<string, { rows: number; checksum: string }>;
  try {
    const url = cluster.superuserUrl(manifest.database);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // Recovery is over: the settings that drove it would only confuse a later start.
      for (const k of Object.keys(settings)) await client.query(`alter system reset ${k}`);
      await client.query('select pg_reload_conf()');
    } finally {
      await client.end();
    }
    lines.push(`recovered and started a PostgreSQL ${manifest.postgresVersion} on a free port in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    tables = await databaseChecksums(url);
    lines.push(...(await checkRestored(manifest, url, tables, options.target.kind === 'backup')));
    await withClient(url, releaseDeadWorkersJobs);
  } finally {
    await cluster.stop();
  }
  for (const entry of manifest.files) {
    const [, folder, ...rest] = entry.path.split('/');
    const target = path.join(into, folder!, ...rest);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.copyFile(path.join(options.backupDir, ...entry.path.split('/')), target);
  }
  lines.push(`restored ${manifest.files.length} stored files (certificate PDFs, uploads, outbox) into ${into}`);
  return { manifest, lines, tables };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function countFiles(m: Manifest): number {
  return m.logical.tables.length + (m.physical?.files.length ?? 0) + (m.physical?.wal.length ?? 0) + m.files.length;
}

/** The migration level, and the tables: equal to the manifest's at its snapshot, listed otherwise. */
async function checkRestored(manifest: Manifest, url: string, tables: Record<string, { rows: number; checksum: string }>, exact: boolean): Promise<string[]> {
  const lines: string[] = [];
  const { rows } = await withClient(url, (c) =>
    c.query<{ filename: string }>('select filename from graphile_migrate.migrations order by filename desc limit 1'),
  );
  if (rows[0]?.filename !== manifest.migration?.filename)
    throw new Error(`restored migration level ${rows[0]?.filename} differs from the backup's ${manifest.migration?.filename}`);
  lines.push(`migration level ${manifest.migration?.filename ?? 'none'}`);
  const total = Object.values(tables).reduce((n, t) => n + t.rows, 0);
  if (exact) {
    const problems = compareWithManifest(manifest, tables);
    if (problems.length > 0) throw new BackupCorruptError(problems);
    lines.push(`${manifest.logical.tables.length} tables, ${total} rows: every row count and content checksum equals the manifest's`);
  } else {
    const changed = manifest.logical.tables
      .filter((t) => tables[t.table]?.checksum !== t.checksum)
      .map((t) => `${t.table} ${t.rows} → ${tables[t.table]?.rows ?? 'missing'}`);
    lines.push(`${manifest.logical.tables.length} tables, ${total} rows; changed since the backup: ${changed.length === 0 ? 'none' : changed.join(', ')}`);
  }
  return lines;
}

/** A database "of ours" has our tables or a migration history; anything else counts as empty. */
async function hasOurTables(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ n: number }>(
    `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('lms_public', 'lms_private', 'graphile_worker', 'graphile_migrate') and c.relkind in ('r', 'p')`,
  );
  return rows[0]!.n > 0;
}

export interface LogicalRestoreOptions {
  readonly backupDir: string;
  /** A superuser URL naming a database that does not exist yet, or is empty. */
  readonly into: string;
  readonly log?: Log;
}

/**
 * A logical restore: a new database migrated to the backup's migration level (not beyond: the
 * rows fit that schema; `db:migrate` takes it further afterwards), then the export loaded.
 */
export async function restoreLogical(options: LogicalRestoreOptions): Promise<RestoreReport> {
  const log = options.log ?? (() => {});
  const manifest = await verifyBackupFiles(options.backupDir);
  const lines = [`checked ${countFiles(manifest)} files against their sha256 in the manifest`];
  const database = databaseName(options.into);
  const admin = new URL(options.into);
  admin.pathname = '/postgres';
  let created = false;
  await withClient(admin.toString(), async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (rowCount) {
      if (await withClient(options.into, hasOurTables))
        throw new Error(`refusing to restore into database ${database}: it already has Coursebase tables (restores never overwrite)`);
    } else {
      await client.query(`create database ${client.escapeIdentifier(database)}`);
      created = true;
    }
  });
  const temp = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-restore-'));
  try {
    const folder = await migrationsUpTo(manifest, temp);
    log(`migrating ${database} to ${manifest.migration?.filename}`);
    const connections = await resolveConnections(loadConfig({ NODE_ENV: 'development', DATABASE_URL: options.into }));
    await migrateDatabase(connections, log, folder);
    const started = Date.now();
    await loadLogical(options.backupDir, manifest, options.into);
    lines.push(
      `loaded ${manifest.logical.tables.length} tables in one transaction in ${((Date.now() - started) / 1000).toFixed(1)} s, triggers off (session_replication_role = replica)`,
    );
    const tables = await databaseChecksums(options.into);
    lines.push(...(await checkRestored(manifest, options.into, tables, true)));
    if (manifest.files.length > 0)
      lines.push(
        `the ${manifest.files.length} stored files are in ${path.join(options.backupDir, 'files')}: copy storage/ and outbox/ into the new LMS_DATA_DIR`,
      );
    return { manifest, lines, tables };
  } catch (error) {
    if (created) {
      await withClient(admin.toString(), (c) => c.query(`drop database if exists ${c.escapeIdentifier(database)} with (force)`)).catch(() => {});
    }
    throw error;
  } finally {
    await fs.rm(temp, { recursive: true, force: true });
  }
}

/** The migrations folder that brings a database to the backup's level, and no further. */
async function migrationsUpTo(manifest: Manifest, temp: string): Promise<string> {
  if (manifest.migration === null) throw new Error('the backup has no migration level');
  return migrationsFolderUpTo(manifest.migration.level, temp);
}

/**
 * The checkout's committed migrations up to a level: the project's own folder when it is the
 * latest, a copy of the first ones in `temp` when the checkout is ahead. A level the checkout
 * does not have (a backup from a later release) cannot be reached from it.
 */
export async function migrationsFolderUpTo(level: number, temp: string): Promise<string> {
  const committed = projectPath('migrations', 'committed');
  const files = (await fs.readdir(committed)).filter((f) => f.endsWith('.sql')).sort();
  // graphile-migrate records 000017.sql for the file 000017-what-it-does.sql.
  const at = files.findIndex((f) => Number.parseInt(f, 10) === level);
  if (at < 0) throw new Error(`migration ${level} is not in this checkout: check out the release that took the backup`);
  if (at === files.length - 1) return projectPath('migrations');
  await fs.mkdir(path.join(temp, 'committed'), { recursive: true });
  for (const f of files.slice(0, at + 1)) await fs.copyFile(path.join(committed, f), path.join(temp, 'committed', f));
  return temp;
}
