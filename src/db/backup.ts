import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

/*
 * Backups of the one database that holds everything (data, job queue, migration history), without
 * pg_dump: the embedded cluster ships no client tools, and Debian's pg_dump 15 refuses a 16 server.
 *
 * A backup folder holds
 * - logical/: every table as `COPY … TO STDOUT` text, gzipped, from ONE repeatable-read snapshot.
 *   Text COPY is readable by any later PostgreSQL, so this part restores across major versions;
 * - pg/ and wal/: a physical base backup of the embedded cluster (low-level pg_backup_start/stop
 *   API) with the WAL it needs, which a restore can roll forward through the WAL archive;
 * - files/: the certificate PDFs (storage) and the mail outbox;
 * - manifest.json, written last: sizes and sha256 of every file, rows and a content checksum of
 *   every table, the migration level, the PostgreSQL version.
 */

export const MANIFEST_FORMAT = 'coursebase-backup/1';

/** The schemas whose tables are data. graphile_migrate is not: a restore migrates to the level instead. */
export const EXPORTED_SCHEMAS = ['lms_public', 'lms_private', 'graphile_worker'] as const;
/** Written by graphile-worker's own migrations on the target, like graphile_migrate's tables. */
const NOT_EXPORTED = new Set(['graphile_worker.migrations']);

/**
 * Output settings under which a row's text, and so its checksum, is the same on every server and
 * session; COPY's text output follows them too.
 */
export const STABLE_OUTPUT = [
  "set timezone = 'UTC'",
  "set datestyle = 'ISO, YMD'",
  "set intervalstyle = 'postgres'",
  'set extra_float_digits = 1',
  "set bytea_output = 'hex'",
  // An error rather than a silently filtered export, should RLS apply to the connecting role.
  'set row_security = off',
].join('; ');

export interface FileEntry {
  /** Relative to the backup folder, with forward slashes. */
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface TableEntry {
  /** schema.table, each quoted only where it needs it (format's %I). */
  readonly table: string;
  readonly columns: readonly string[];
  readonly rows: number;
  /** md5 over the sorted md5s of the rows' text: the same for the same rows whatever their order. */
  readonly checksum: string;
  readonly file: FileEntry;
}

export interface SequenceEntry {
  readonly sequence: string;
  readonly lastValue: string | null;
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly createdAt: string;
  readonly postgresVersion: string;
  readonly database: string;
  readonly migration: { readonly level: number; readonly filename: string; readonly hash: string } | null;
  readonly logical: {
    /** The WAL position of the snapshot: a physical restore to it gives exactly these tables. */
    readonly snapshotLsn: string;
    readonly snapshotAt: string;
    readonly tables: readonly TableEntry[];
    readonly sequences: readonly SequenceEntry[];
  };
  readonly physical: {
    readonly startLsn: string;
    readonly stopLsn: string;
    readonly walArchive: string | undefined;
    readonly files: readonly FileEntry[];
    readonly wal: readonly FileEntry[];
  } | null;
  readonly files: readonly FileEntry[];
  readonly totalBytes: number;
  readonly seconds: number;
}

export type Log = (line: string) => void;

interface TableInfo {
  readonly table: string;
  readonly oid: number;
  readonly columns: string[];
}

/** The exported tables, parents before the tables whose foreign keys point at them. */
export async function exportedTables(client: pg.ClientBase): Promise<TableInfo[]> {
  const { rows } = await client.query<{ oid: number; schema: string; name: string; qualified: string; columns: string[]; parents: number[] }>(
    `select c.oid::int as oid, n.nspname as schema, c.relname as name, format('%I.%I', n.nspname, c.relname) as qualified,
            array(select a.attname::text from pg_attribute a
                  where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = '' order by a.attnum) as columns,
            array(select distinct f.confrelid::int from pg_constraint f where f.conrelid = c.oid and f.contype = 'f' and f.confrelid <> c.oid) as parents
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any($1) and c.relkind = 'r' and not c.relispartition
     order by n.nspname, c.relname`,
    [EXPORTED_SCHEMAS],
  );
  const tables = rows.filter((r) => !NOT_EXPORTED.has(`${r.schema}.${r.name}`));
  const byOid = new Map(tables.map((t) => [t.oid, t]));
  const ordered: TableInfo[] = [];
  const placed = new Set<number>();
  const place = (t: (typeof tables)[number], trail: Set<number>) => {
    if (placed.has(t.oid) || trail.has(t.oid)) return;
    trail.add(t.oid);
    for (const parent of t.parents) {
      const p = byOid.get(parent);
      if (p) place(p, trail);
    }
    placed.add(t.oid);
    ordered.push({ table: t.qualified, oid: t.oid, columns: t.columns });
  };
  for (const t of tables) place(t, new Set());
  return ordered;
}

/** Row count and content checksum of one table, in the caller's snapshot and STABLE_OUTPUT settings. */
export async function tableChecksum(client: pg.ClientBase, table: string): Promise<{ rows: number; checksum: string }> {
  const { rows } = await client.query<{ rows: string; checksum: string }>(
    `select count(*) as rows, md5(coalesce(string_agg(h, '' order by h), '')) as checksum from (select md5(t::text) as h from only ${table} t) x`,
  );
  return { rows: Number(rows[0]!.rows), checksum: rows[0]!.checksum };
}

/** Every exported table's rows and checksum, keyed by name: what a test or a restore compares. */
export async function databaseChecksums(url: string): Promise<Record<string, { rows: number; checksum: string }>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(STABLE_OUTPUT);
    await client.query('begin isolation level repeatable read read only');
    const result: Record<string, { rows: number; checksum: string }> = {};
    for (const t of await exportedTables(client)) result[t.table] = await tableChecksum(client, t.table);
    await client.query('commit');
    return result;
  } finally {
    await client.end();
  }
}

/** Streams through unchanged, counting bytes and hashing them. */
function hasher(): Transform & { digest: () => { bytes: number; sha256: string } } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  }) as Transform & { digest: () => { bytes: number; sha256: string } };
  stream.digest = () => ({ bytes, sha256: hash.digest('hex') });
  return stream;
}

export async function sha256File(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

const relative = (root: string, file: string) => path.relative(root, file).split(path.sep).join('/');

/** Copies a file, hashing what it wrote. */
async function copyHashed(from: string, to: string, root: string): Promise<FileEntry> {
  const h = hasher();
  await pipeline(createReadStream(from), h, createWriteStream(to));
  return { path: relative(root, to), ...h.digest() };
}

/**
 * Copies a folder tree, hashing every file. Files that vanish mid-copy are skipped: in a hot base
 * backup that is expected (a dropped table, a temporary file), and the WAL replays whatever happened.
 */
async function copyTree(
  from: string,
  to: string,
  root: string,
  skip: (rel: string, isDir: boolean) => 'skip' | 'empty' | 'copy' = () => 'copy',
): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  const walk = async (dir: string, rel: string) => {
    await fs.mkdir(path.join(to, rel), { recursive: true, mode: 0o700 });
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const what = skip(childRel, entry.isDirectory());
      if (what === 'skip') continue;
      const source = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (what === 'empty') await fs.mkdir(path.join(to, childRel), { recursive: true, mode: 0o700 });
        else await walk(source, childRel);
      } else if (entry.isFile()) {
        try {
          out.push(await copyHashed(source, path.join(to, childRel), root));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
  };
  await walk(from, '');
  return out;
}

/**
 * What a base backup leaves out (the PostgreSQL manual, "Making a Base Backup Using the Low Level
 * API"): the WAL, which comes separately, and state that means nothing to a restored server.
 */
function baseBackupFilter(rel: string, isDir: boolean): 'skip' | 'empty' | 'copy' {
  if (['postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'recovery.signal', 'standby.signal'].includes(rel)) return 'skip';
  if (path.posix.basename(rel).startsWith('pgsql_tmp')) return 'skip';
  if (isDir && ['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans'].includes(rel)) return 'empty';
  return 'copy';
}

export interface BackupOptions {
  /** A connection to the database; a superuser for the physical part. */
  readonly url: string;
  /** The parent folder; the backup goes into a new folder under it, named by its time. */
  readonly outDir: string;
  /** The embedded cluster's data folder and WAL archive: present, a physical base backup is taken too. */
  readonly embedded?: { readonly pgDataDir: string; readonly walArchive: string };
  /** Folders of files to keep with the database, by the name they get under files/. */
  readonly fileFolders: Readonly<Record<string, string>>;
  readonly log?: Log;
}

/**
 * Takes the writers' lock just long enough for the snapshot to begin, so that the snapshot's WAL
 * position is exact: every commit to these tables before it is in the snapshot, none after. The
 * lock gives up after a short wait rather than risk a deadlock with a writer, and tries again.
 */
async function beginSnapshotAtKnownLsn(client: pg.Client, locker: pg.Client, tables: TableInfo[]): Promise<{ lsn: string; at: string }> {
  for (let attempt = 1; ; attempt++) {
    await locker.query("begin; set local lock_timeout = '500ms'");
    try {
      await locker.query(`lock table ${tables.map((t) => `only ${t.table}`).join(', ')} in share mode`);
    } catch (error) {
      await locker.query('rollback');
      if ((error as { code?: string }).code !== '55P03' || attempt >= 20) throw error;
      await new Promise((r) => setTimeout(r, 200 * attempt));
      continue;
    }
    try {
      await client.query('begin isolation level repeatable read read only');
      // The first statement takes the snapshot; its WAL position comes with it.
      const { rows } = await client.query<{ lsn: string; at: Date }>('select pg_current_wal_insert_lsn()::text as lsn, clock_timestamp() as at');
      return { lsn: rows[0]!.lsn, at: rows[0]!.at.toISOString() };
    } finally {
      await locker.query('commit');
    }
  }
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** WAL segment names from `first` to `last` on one timeline. */
function segmentNames(first: string, last: string, segmentBytes: number): string[] {
  const perLog = 0x1_0000_0000 / segmentBytes;
  const timeline = first.slice(0, 8);
  let n = parseInt(first.slice(8, 16), 16) * perLog + parseInt(first.slice(16, 24), 16);
  const end = parseInt(last.slice(8, 16), 16) * perLog + parseInt(last.slice(16, 24), 16);
  const names: string[] = [];
  for (; n <= end; n++) {
    const hex = (v: number) => v.toString(16).toUpperCase().padStart(8, '0');
    names.push(`${timeline}${hex(Math.floor(n / perLog))}${hex(n % perLog)}`);
  }
  return names;
}

/** Takes a backup; returns its folder and manifest. */
export async function takeBackup(options: BackupOptions): Promise<{ dir: string; manifest: Manifest }> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const createdAt = new Date();
  const name = createdAt.toISOString().replace(/[:.]/g, '-');
  const finalDir = path.join(options.outDir, name);
  // Written under a temporary name and renamed when complete: a folder with a manifest is whole.
  const dir = `${finalDir}.partial`;
  await fs.mkdir(path.join(dir, 'logical'), { recursive: true });
  const client = await connect(options.url);
  const locker = await connect(options.url);
  try {
    const { rows: info } = await client.query<{ version: string; database: string; segment: string }>(
      "select current_setting('server_version') as version, current_database() as database, current_setting('wal_segment_size') as segment",
    );
    const { version, database } = info[0]!;

    let physical: { startLsn: string; stopLsn: string; files: FileEntry[]; label: string } | undefined;
    if (options.embedded) {
      log('physical: pg_backup_start (fast checkpoint)');
      const { rows: start } = await client.query<{ lsn: string }>('select pg_backup_start($1, true)::text as lsn', [`coursebase ${name}`]);
      const files = await copyTree(options.embedded.pgDataDir, path.join(dir, 'pg'), dir, baseBackupFilter);
      const { rows: stop } = await client.query<{ lsn: string; labelfile: string; spcmapfile: string }>(
        'select lsn::text, labelfile, spcmapfile from pg_backup_stop(false)',
      );
      const { labelfile, spcmapfile } = stop[0]!;
      for (const [file, text] of [
        ['backup_label', labelfile],
        ['tablespace_map', spcmapfile],
      ] as const) {
        if (!text) continue;
        await fs.writeFile(path.join(dir, 'pg', file), text);
        files.push({ path: `pg/${file}`, ...(await sha256File(path.join(dir, 'pg', file))) });
      }
      physical = { startLsn: start[0]!.lsn, stopLsn: stop[0]!.lsn, files, label: labelfile };
      log(`physical: ${files.length} files copied, WAL ${physical.startLsn} to ${physical.stopLsn}`);
    }

    await client.query(STABLE_OUTPUT);
    const tables = await exportedTables(client);
    const snapshot = await beginSnapshotAtKnownLsn(client, locker, tables);
    const { rows: migration } = await client.query<{ filename: string; hash: string }>(
      'select filename, hash from graphile_migrate.migrations order by filename desc limit 1',
    );
    const entries: TableEntry[] = [];
    for (const [i, t] of tables.entries()) {
      const { rows, checksum } = await tableChecksum(client, t.table);
      const file = path.join(dir, 'logical', `${String(i + 1).padStart(3, '0')}-${t.table.replace(/"/g, '')}.copy.gz`);
      const h = hasher();
      const columns = t.columns.map((c) => client.escapeIdentifier(c)).join(', ');
      await pipeline(client.query(copyTo(`copy ${t.table} (${columns}) to stdout`)), createGzip(), h, createWriteStream(file));
      entries.push({ table: t.table, columns: t.columns, rows, checksum, file: { path: relative(dir, file), ...h.digest() } });
    }
    const { rows: sequences } = await client.query<{ sequence: string; last_value: string | null }>(
      `select format('%I.%I', schemaname, sequencename) as sequence, last_value::text from pg_sequences where schemaname = any($1) order by 1`,
      [EXPORTED_SCHEMAS],
    );
    await client.query('commit');
    log(`logical: ${entries.length} tables, ${entries.reduce((n, e) => n + e.rows, 0)} rows, snapshot at ${snapshot.lsn}`);

    const wal: FileEntry[] = [];
    if (options.embedded && physical) {
      // Finish the segment that holds the snapshot, so that it is complete, then keep every
      // segment from the backup's start to the snapshot: a restore needs nothing else.
      // A record after the snapshot, for a restore to stop before (the position may be one no
      // record starts at, nothing having been written since), then the segment finished.
      const { rows: seg } = await client.query<{ last: string }>(`select pg_walfile_name(pg_create_restore_point($1)) as last`, [`coursebase ${name}`]);
      await client.query('select pg_switch_wal()');
      const first = /START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)/.exec(physical.label)?.[1];
      if (!first) throw new Error(`unexpected backup_label:\n${physical.label}`);
      await fs.mkdir(path.join(dir, 'wal'));
      const segmentBytes = Number(/^(\d+)MB$/.exec(info[0]!.segment)?.[1] ?? 16) * 1024 * 1024;
      const liveWal = path.join(options.embedded.pgDataDir, 'pg_wal');
      for (const segment of segmentNames(first, seg[0]!.last, segmentBytes)) {
        // The live pg_wal has every segment since the last checkpoint, and the archive lags it.
        const source = (await fileExists(path.join(liveWal, segment))) ? path.join(liveWal, segment) : path.join(options.embedded.walArchive, segment);
        wal.push(await copyHashed(source, path.join(dir, 'wal', segment), dir));
      }
      for (const history of (await fs.readdir(liveWal)).filter((f) => f.endsWith('.history'))) {
        wal.push(await copyHashed(path.join(liveWal, history), path.join(dir, 'wal', history), dir));
      }
      log(`physical: ${wal.length} WAL files`);
    }

    const files: FileEntry[] = [];
    for (const [label, folder] of Object.entries(options.fileFolders)) {
      if (await fileExists(folder)) files.push(...(await copyTree(folder, path.join(dir, 'files', label), dir)));
    }
    const all = [...entries.map((e) => e.file), ...(physical?.files ?? []), ...wal, ...files];
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      createdAt: createdAt.toISOString(),
      postgresVersion: version,
      database,
      migration: migration[0] ? { level: Number.parseInt(migration[0].filename, 10), ...migration[0] } : null,
      logical: {
        snapshotLsn: snapshot.lsn,
        snapshotAt: snapshot.at,
        tables: entries,
        sequences: sequences.map((s) => ({ sequence: s.sequence, lastValue: s.last_value })),
      },
      physical: physical
        ? { startLsn: physical.startLsn, stopLsn: physical.stopLsn, walArchive: options.embedded?.walArchive, files: physical.files, wal }
        : null,
      files,
      totalBytes: all.reduce((n, f) => n + f.bytes, 0),
      seconds: (Date.now() - started) / 1000,
    };
    await fs.writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
    await fs.rename(dir, finalDir);
    return { dir: finalDir, manifest };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  } finally {
    await Promise.all([client.end(), locker.end()]);
  }
}

export async function fileExists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

export class BackupCorruptError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`the backup does not match its manifest:\n- ${problems.join('\n- ')}`);
    this.name = 'BackupCorruptError';
    this.problems = problems;
  }
}

/** Reads the manifest and checks every file it lists against its size and sha256. */
export async function verifyBackupFiles(dir: string): Promise<Manifest> {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!(await fileExists(manifestFile))) throw new Error(`${dir} is not a complete backup: it has no manifest.json`);
  const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as Manifest;
  if (manifest.format !== MANIFEST_FORMAT) throw new Error(`unknown backup format ${String(manifest.format)}`);
  const listed = [...manifest.logical.tables.map((t) => t.file), ...(manifest.physical?.files ?? []), ...(manifest.physical?.wal ?? []), ...manifest.files];
  const problems: string[] = [];
  for (const entry of listed) {
    const file = path.join(dir, ...entry.path.split('/'));
    if (!(await fileExists(file))) {
      problems.push(`${entry.path} is missing`);
      continue;
    }
    const actual = await sha256File(file);
    if (actual.sha256 !== entry.sha256 || actual.bytes !== entry.bytes)
      problems.push(`${entry.path}: sha256 ${actual.sha256} (${actual.bytes} bytes), manifest says ${entry.sha256} (${entry.bytes} bytes)`);
  }
  if (problems.length > 0) throw new BackupCorruptError(problems);
  return manifest;
}

/** Compares a database's tables with the manifest's; returns the differences. */
export function compareWithManifest(manifest: Manifest, actual: Record<string, { rows: number; checksum: string }>): string[] {
  const problems: string[] = [];
  for (const t of manifest.logical.tables) {
    const a = actual[t.table];
    if (!a) problems.push(`${t.table} is missing`);
    else if (a.rows !== t.rows || a.checksum !== t.checksum) problems.push(`${t.table}: ${a.rows} rows (${a.checksum}), backup had ${t.rows} (${t.checksum})`);
  }
  return problems;
}

/**
 * Loads the logical export into a database already migrated to the manifest's level, in one
 * transaction, as a superuser: session_replication_role = replica switches off every trigger
 * (derived data arrives as it was, and is not recomputed or queued twice) and the foreign-key
 * checks, which the dependency order makes moot anyway. The tables the migrations filled are
 * emptied first: the export has their rows too. Sequences are set to where the source's were.
 * Checks the rows and checksums against the manifest before it commits.
 */
export async function loadLogical(dir: string, manifest: Manifest, url: string): Promise<void> {
  const client = await connect(url);
  try {
    await client.query(STABLE_OUTPUT);
    await client.query('begin');
    await client.query('set local session_replication_role = replica');
    await client.query(`truncate ${manifest.logical.tables.map((t) => `only ${t.table}`).join(', ')}`);
    for (const t of manifest.logical.tables) {
      const columns = t.columns.map((c) => client.escapeIdentifier(c)).join(', ');
      await pipeline(
        createReadStream(path.join(dir, ...t.file.path.split('/'))),
        createGunzip(),
        client.query(copyFrom(`copy ${t.table} (${columns}) from stdin`)),
      );
    }
    for (const s of manifest.logical.sequences) {
      if (s.lastValue === null) await client.query('select setval($1::regclass, 1, false)', [s.sequence]);
      else await client.query('select setval($1::regclass, $2::bigint, true)', [s.sequence, s.lastValue]);
    }
    const actual: Record<string, { rows: number; checksum: string }> = {};
    for (const t of manifest.logical.tables) actual[t.table] = await tableChecksum(client, t.table);
    const problems = compareWithManifest(manifest, actual);
    if (problems.length > 0) throw new BackupCorruptError(problems);
    await releaseDeadWorkersJobs(client);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * Jobs locked at backup time belong to workers that do not exist in the restored database; left
 * locked, graphile-worker would wait four hours before running them again.
 */
export async function releaseDeadWorkersJobs(client: pg.ClientBase): Promise<void> {
  await client.query('update graphile_worker._private_jobs set locked_at = null, locked_by = null where locked_by is not null');
  await client.query('update graphile_worker._private_job_queues set locked_at = null, locked_by = null where locked_by is not null');
}

/**
 * Forces the current WAL segment out and waits until the archiver has it, so that a
 * point-in-time restore can reach the last commit. Returns whether the archive caught up.
 */
export async function flushWalArchive(url: string, timeoutMs = 30_000): Promise<boolean> {
  const client = await connect(url);
  try {
    const { rows } = await client.query<{ segment: string }>('select pg_walfile_name(pg_switch_wal()) as segment');
    const segment = rows[0]!.segment;
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const { rows: a } = await client.query<{ last: string | null }>('select last_archived_wal as last from pg_stat_archiver');
      if (a[0]?.last && a[0].last.slice(0, 24) >= segment) return true;
    }
    return false;
  } finally {
    await client.end();
  }
}

/**
 * Retention: removes base backups older than `days`, always keeping the newest, then the archived
 * WAL that no kept backup needs and that is older than `days` too. Returns what it removed.
 */
export async function pruneBackups(
  baseDir: string,
  walArchive: string | undefined,
  days: number,
  now = new Date(),
): Promise<{ backups: string[]; wal: number }> {
  const cutoff = now.getTime() - days * 86_400_000;
  const backups: Array<{ dir: string; created: number; firstWal: string | undefined }> = [];
  for (const name of (await fileExists(baseDir)) ? await fs.readdir(baseDir) : []) {
    const dir = path.join(baseDir, name);
    const manifestFile = path.join(dir, 'manifest.json');
    if (!(await fileExists(manifestFile))) continue;
    const m = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as Manifest;
    backups.push({
      dir,
      created: Date.parse(m.createdAt),
      firstWal: m.physical?.wal
        .find((w) => /^[0-9A-F]{24}$/.test(path.posix.basename(w.path)))
        ?.path.split('/')
        .pop(),
    });
  }
  backups.sort((a, b) => b.created - a.created);
  const removed: string[] = [];
  const kept = backups.filter((b, i) => i === 0 || b.created >= cutoff);
  for (const b of backups.filter((b) => !kept.includes(b))) {
    await fs.rm(b.dir, { recursive: true, force: true });
    removed.push(b.dir);
  }
  let wal = 0;
  if (walArchive && (await fileExists(walArchive))) {
    // WAL from the oldest kept backup on is what rolls those backups forward.
    const oldestNeeded = kept
      .map((b) => b.firstWal)
      .filter((w): w is string => w !== undefined)
      .sort()[0];
    for (const name of await fs.readdir(walArchive)) {
      if (!/^[0-9A-F]{24}/.test(name) || (oldestNeeded !== undefined && name.slice(8) >= oldestNeeded.slice(8))) continue;
      const file = path.join(walArchive, name);
      if ((await fs.stat(file)).mtimeMs >= cutoff) continue;
      await fs.rm(file);
      wal++;
    }
  }
  return { backups: removed, wal };
}
