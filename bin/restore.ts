import { parseArgs } from 'node:util';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { EMBEDDED_SUPERUSER_PASSWORD } from '../src/db/database.ts';
import { EmbeddedPostgres } from '../src/db/embedded.ts';
import { flushWalArchive } from '../src/db/backup.ts';
import { restoreLogical, restorePhysical, type RecoveryTarget } from '../src/db/restore.ts';
import { logger } from '../src/log.ts';

/**
 * npm run db:restore -- <backup folder> [--to <ISO time> | --to latest] [--into <new data folder | new database URL>] [--wal <archive>]
 * A folder (the default: a new one beside LMS_DATA_DIR) restores the physical backup; a
 * postgres:// URL loads the logical export into a new database.
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { to: { type: 'string' }, into: { type: 'string' }, wal: { type: 'string' } },
});
const log = logger('restore');
const config = loadConfig();

async function main(): Promise<void> {
  const backupDir = positionals[0];
  if (positionals.length !== 1 || backupDir === undefined)
    throw new Error('usage: npm run db:restore -- <backup folder> [--to <ISO time> | latest] [--into <folder | database URL>]');
  let target: RecoveryTarget = { kind: 'backup' };
  if (values.to === 'latest') target = { kind: 'latest' };
  else if (values.to !== undefined) {
    const at = new Date(values.to);
    if (Number.isNaN(at.getTime())) throw new Error(`--to must be an ISO timestamp (with its offset) or "latest", got "${values.to}"`);
    target = { kind: 'time', at };
  }
  if (values.into && /^postgres(ql)?:\/\//.test(values.into)) {
    if (target.kind !== 'backup') throw new Error('--to needs the physical path (a data folder): a logical export holds one moment only');
    const report = await restoreLogical({ backupDir: path.resolve(backupDir), into: values.into, log });
    for (const line of report.lines) log(line);
    log(`restored into ${new URL(values.into).pathname.slice(1)}; \`npm run db:migrate\` takes it to this checkout's latest migration`);
    return;
  }
  if (target.kind !== 'backup' && config.databaseUrl === undefined) await flushRunningEmbedded();
  const into = path.resolve(values.into ?? `${config.dataDir}-restored-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const report = await restorePhysical({
    backupDir: path.resolve(backupDir),
    into,
    target,
    walArchive: values.wal && path.resolve(values.wal),
    password: EMBEDDED_SUPERUSER_PASSWORD,
    log,
  });
  for (const line of report.lines) log(line);
  log(
    into === config.dataDir
      ? 'restored into LMS_DATA_DIR itself: `npm start` runs it'
      : `to run it: stop Coursebase, then LMS_DATA_DIR=${into} npm start (or move it to ${config.dataDir})`,
  );
}

/** When the embedded cluster is up, its last WAL goes into the archive first, so --to can reach now. */
async function flushRunningEmbedded(): Promise<void> {
  const url = new EmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, password: EMBEDDED_SUPERUSER_PASSWORD }).superuserUrl();
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  const up = await probe.connect().then(
    () => true,
    () => false,
  );
  await probe.end().catch(() => {});
  if (!up) return;
  log(
    (await flushWalArchive(url))
      ? 'the running cluster’s current WAL is archived'
      : 'warning: the archiver did not catch up within 30 s; the restore may stop short of now',
  );
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  log(`restore failed: ${error instanceof Error ? error.message : String(error)}`);
}
