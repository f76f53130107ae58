import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { EMBEDDED_SUPERUSER_PASSWORD } from '../../src/db/database.ts';
import { EmbeddedPostgres } from '../../src/db/embedded.ts';
import { databaseChecksums, pruneBackups, type Manifest } from '../../src/db/backup.ts';
import { createMigratedDatabase, freePort, superuserUrl } from '../../src/db/scratch-cluster.ts';
import { DEV_ROLE_PASSWORDS, withCredentials } from '../../src/db/connections.ts';
import { seedDemo } from '../../src/db/seed.ts';
import { projectPath } from '../../src/paths.ts';
import { insertUser } from '../support/fixtures.ts';
import { Logger, quickAddJob, runOnce } from 'graphile-worker';
import { loadConfig } from '../../src/config.ts';
import { crontabFor } from '../../worker/crontab.ts';
import databaseBackup from '../../worker/tasks/database__backup.ts';

/*
 * The backup commands as an operator runs them: real processes against a real embedded cluster
 * of this file's own, which archives its WAL as the development one does.
 */

let root: string;
let source: EmbeddedPostgres;
let sourceUrl: string;
let backupDir: string;
let manifest: Manifest;
type Sums = Awaited<ReturnType<typeof databaseChecksums>>;
let atBackup: Sums;
let between: Sums;
let betweenTime: string;
let afterAll_: Sums;
const PDF = 'certificates/CB-TEST.pdf';

function run(script: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string; lastLine: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    LMS_DATA_DIR: path.join(root, 'data'),
    LMS_EMBEDDED_PG_PORT: String(source.options.port),
  };
  delete env.DATABASE_URL;
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, [projectPath('bin', script), ...args], { cwd: projectPath(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output, lastLine: output.trimEnd().split('\n').pop() ?? '' })));
}

/** Starts a restored data folder on a free port, reads every table's checksum, stops it. */
async function checksumsOfFolder(dataDir: string): Promise<Sums> {
  const cluster = new EmbeddedPostgres({ dataDir, port: await freePort(), password: EMBEDDED_SUPERUSER_PASSWORD });
  await cluster.start();
  try {
    return await databaseChecksums(cluster.superuserUrl());
  } finally {
    await cluster.stop();
  }
}

async function write(users: number): Promise<void> {
  const client = new pg.Client({ connectionString: sourceUrl });
  await client.connect();
  try {
    for (let i = 0; i < users; i++) await insertUser(client);
    await client.query("update lms_public.courses set title = title || ' (edited)' where id = (select min(id::text)::uuid from lms_public.courses)");
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-backup-test-'));
  await fs.chmod(root, 0o755);
  const dataDir = path.join(root, 'data');
  source = new EmbeddedPostgres({ dataDir, port: await freePort(), password: EMBEDDED_SUPERUSER_PASSWORD, archiveDir: path.join(dataDir, 'backups', 'wal') });
  await source.start();
  sourceUrl = source.superuserUrl();
  await createMigratedDatabase(sourceUrl, 'coursebase');
  await seedDemo(withCredentials(sourceUrl, 'lms_owner', DEV_ROLE_PASSWORDS.lms_owner), 4, { onlyIfEmpty: false });
  await fs.mkdir(path.join(dataDir, 'storage', 'certificates'), { recursive: true });
  await fs.writeFile(path.join(dataDir, 'storage', PDF), '%PDF-1.7 a certificate\n');
  await fs.mkdir(path.join(dataDir, 'outbox'), { recursive: true });
  await fs.writeFile(path.join(dataDir, 'outbox', 'welcome.eml'), 'Subject: welcome\n\nhello\n');
  atBackup = await databaseChecksums(sourceUrl);
}, 60_000);

afterAll(async () => {
  await source?.stop();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

it('db:backup writes a physical base backup, a logical export, the files and a manifest, and prints the folder last', async () => {
  const { code, output, lastLine } = await run('backup.ts', ['--out', path.join(root, 'backups')]);
  if (code !== 0) throw new Error(`exit ${code}:\n${output}`);
  backupDir = lastLine;
  expect(path.dirname(backupDir)).toBe(path.join(root, 'backups'));
  manifest = JSON.parse(await fs.readFile(path.join(backupDir, 'manifest.json'), 'utf8'));
  expect(manifest.postgresVersion).toMatch(/^16\./);
  const committed = (await fs.readdir(projectPath('migrations', 'committed'))).sort();
  expect(manifest.migration?.level).toBe(Number.parseInt(committed.at(-1)!, 10));
  expect(Object.fromEntries(manifest.logical.tables.map((t) => [t.table, { rows: t.rows, checksum: t.checksum }]))).toEqual(atBackup);
  expect(manifest.logical.tables.find((t) => t.table === 'lms_public.enrollments')!.rows).toBeGreaterThan(0);
  expect(manifest.physical?.files.some((f) => f.path === 'pg/backup_label')).toBe(true);
  expect(manifest.physical?.wal.length).toBeGreaterThan(0);
  expect(manifest.files.map((f) => f.path).sort()).toEqual(['files/outbox/welcome.eml', `files/storage/${PDF}`]);
  expect(manifest.totalBytes).toBeGreaterThan(0);

  // More writes, a moment in between, and more again: what point-in-time recovery must tell apart.
  await write(2);
  between = await databaseChecksums(sourceUrl);
  betweenTime = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 1200));
  await write(1);
  afterAll_ = await databaseChecksums(sourceUrl);
  expect(afterAll_['lms_public.users']!.rows).toBe(atBackup['lms_public.users']!.rows + 3);
}, 60_000);

it('db:restore brings the backup back into a new data folder, tables and files as they were', async () => {
  const into = path.join(root, 'restored-backup');
  const { code, output } = await run('restore.ts', [backupDir, '--into', into]);
  if (code !== 0) throw new Error(`exit ${code}:\n${output}`);
  expect(output).toMatch(/every row count and content checksum equals the manifest's/);
  expect(await fs.readFile(path.join(into, 'storage', PDF), 'utf8')).toBe('%PDF-1.7 a certificate\n');
  expect(await fs.readFile(path.join(into, 'outbox', 'welcome.eml'), 'utf8')).toMatch(/welcome/);
  expect(await checksumsOfFolder(into)).toEqual(atBackup);
}, 60_000);

it('db:restore --to a moment after the backup replays the archived WAL up to it, and no further', async () => {
  const into = path.join(root, 'restored-between');
  const { code, output } = await run('restore.ts', [backupDir, '--to', betweenTime, '--into', into]);
  if (code !== 0) throw new Error(`exit ${code}:\n${output}`);
  expect(output).toMatch(/current WAL is archived/);
  const restored = await checksumsOfFolder(into);
  expect(restored).toEqual(between);
  expect(restored).not.toEqual(atBackup);
  expect(restored).not.toEqual(afterAll_);
}, 60_000);

it('db:restore --into a database URL migrates a new database to the backup’s level and loads the export', async () => {
  const url = superuserUrl(sourceUrl, 'restored_logical');
  const { code, output } = await run('restore.ts', [backupDir, '--into', url]);
  if (code !== 0) throw new Error(`exit ${code}:\n${output}`);
  // Derived data arrived as it was: triggers were off, so nothing was recomputed or queued twice.
  expect(await databaseChecksums(url)).toEqual(atBackup);
  // No job is left locked by a worker of the source, and the database takes writes.
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from graphile_worker._private_jobs where locked_by is not null');
    expect(rows[0]!.n).toBe(0);
    await insertUser(client);
  } finally {
    await client.end();
  }
}, 60_000);

it('never overwrites: refuses a folder that is not empty and a database that has our tables', async () => {
  const folder = await run('restore.ts', [backupDir, '--into', path.join(root, 'restored-backup')]);
  expect(folder.code).toBe(1);
  expect(folder.output).toMatch(/refusing to restore into .*restored-backup: it exists and is not empty/);
  const database = await run('restore.ts', [backupDir, '--into', sourceUrl]);
  expect(database.code).toBe(1);
  expect(database.output).toMatch(/refusing to restore into database coursebase: it already has Coursebase tables/);
  expect(await databaseChecksums(sourceUrl)).toEqual(afterAll_);
}, 60_000);

it('a corrupted backup file fails the checksum check before anything is restored', async () => {
  const table = manifest.logical.tables.find((t) => t.table === 'lms_public.enrollments')!;
  await fs.appendFile(path.join(backupDir, table.file.path), 'x');
  const into = path.join(root, 'restored-corrupt');
  const { code, output } = await run('restore.ts', [backupDir, '--into', into]);
  expect(code).toBe(1);
  expect(output).toContain(`${table.file.path}: sha256`);
  await expect(fs.access(into)).rejects.toThrow();
}, 60_000);

it('retention removes base backups and archived WAL older than the window, but never the newest backup', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-prune-'));
  try {
    const base = path.join(dir, 'base');
    const wal = path.join(dir, 'wal');
    await fs.mkdir(wal, { recursive: true });
    const now = new Date('2026-12-10T03:00:00Z');
    const backup = async (daysAgo: number, firstWal: string) => {
      const d = path.join(base, `b${daysAgo}`);
      await fs.mkdir(d, { recursive: true });
      const created = new Date(now.getTime() - daysAgo * 86_400_000).toISOString();
      await fs.writeFile(path.join(d, 'manifest.json'), JSON.stringify({ createdAt: created, physical: { wal: [{ path: `wal/${firstWal}` }] } }));
    };
    await backup(10, '000000010000000000000002');
    await backup(8, '000000010000000000000005');
    await backup(2, '000000010000000000000009');
    const old = new Date(now.getTime() - 9 * 86_400_000);
    for (const seg of ['000000010000000000000003', '000000010000000000000008', '000000010000000000000009', '00000001000000000000000A']) {
      await fs.writeFile(path.join(wal, seg), '');
      await fs.utimes(path.join(wal, seg), old, old);
    }
    const removed = await pruneBackups(base, wal, 7, now);
    expect(removed.backups.map((b) => path.basename(b)).sort()).toEqual(['b10', 'b8']);
    expect((await fs.readdir(wal)).sort()).toEqual(['000000010000000000000009', '00000001000000000000000A']);
    // Everything is old: the newest backup stays all the same.
    expect((await pruneBackups(base, wal, 1, new Date(now.getTime() + 30 * 86_400_000))).backups).toEqual([]);
    expect(await fs.readdir(base)).toEqual(['b2']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

it('the worker’s daily database__backup job takes a base backup and prunes by retention, with the embedded database only', async () => {
  const env = {
    NODE_ENV: 'development',
    LMS_DATA_DIR: path.join(root, 'data'),
    LMS_EMBEDDED_PG_PORT: String(source.options.port),
    LMS_BACKUP_RETENTION_DAYS: '7',
  };
  const config = loadConfig(env);
  expect(crontabFor(config)).toMatch(/^30 3 \* \* \* database__backup /m);
  expect(crontabFor(loadConfig({ ...env, DATABASE_URL: sourceUrl }))).not.toMatch(/database__backup/);
  const base = path.join(root, 'data', 'backups', 'base');
  const stale = path.join(base, 'stale');
  await fs.mkdir(stale, { recursive: true });
  await fs.writeFile(path.join(stale, 'manifest.json'), JSON.stringify({ createdAt: '2000-01-01T00:00:00Z', physical: null }));
  const ownerUrl = withCredentials(sourceUrl, 'lms_owner', DEV_ROLE_PASSWORDS.lms_owner);
  await quickAddJob({ connectionString: ownerUrl }, 'database__backup', {});
  await runOnce({ connectionString: ownerUrl, taskList: { database__backup: databaseBackup(config) }, logger: new Logger(() => () => {}) });
  const backups = await fs.readdir(base);
  expect(backups).toHaveLength(1);
  const manifest: Manifest = JSON.parse(await fs.readFile(path.join(base, backups[0]!, 'manifest.json'), 'utf8'));
  expect(manifest.physical?.wal.length).toBeGreaterThan(0);
  expect(Object.fromEntries(manifest.logical.tables.map((t) => [t.table, t.rows]))).toMatchObject({ 'lms_public.users': afterAll_['lms_public.users']!.rows });
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query("select count(*)::int as n from graphile_worker.jobs where task_identifier = 'database__backup'");
    expect(rows[0].n).toBe(0);
  } finally {
    await client.end();
  }
}, 60_000);

it('against an external DATABASE_URL, db:backup takes the logical export and the files, which restore into a new database', async () => {
  const { code, output, lastLine } = await run('backup.ts', ['--out', path.join(root, 'external')], { DATABASE_URL: sourceUrl });
  if (code !== 0) throw new Error(`exit ${code}:\n${output}`);
  expect(output).toMatch(/no physical part \(external DATABASE_URL/);
  const external: Manifest = JSON.parse(await fs.readFile(path.join(lastLine, 'manifest.json'), 'utf8'));
  expect(external.physical).toBeNull();
  const sums = await databaseChecksums(sourceUrl);
  expect(Object.fromEntries(external.logical.tables.map((t) => [t.table, { rows: t.rows, checksum: t.checksum }]))).toEqual(sums);
  const folder = await run('restore.ts', [lastLine, '--into', path.join(root, 'restored-external')]);
  expect(folder.code).toBe(1);
  expect(folder.output).toMatch(/has no physical part/);
  const url = superuserUrl(sourceUrl, 'restored_external');
  const restored = await run('restore.ts', [lastLine, '--into', url]);
  if (restored.code !== 0) throw new Error(`exit ${restored.code}:\n${restored.output}`);
  expect(await databaseChecksums(url)).toEqual(sums);
}, 60_000);
