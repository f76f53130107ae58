import { parseArgs } from 'node:util';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { baseBackupsDir, openDatabase, walArchiveDir } from '../src/db/database.ts';
import { takeBackup } from '../src/db/backup.ts';
import { logger } from '../src/log.ts';

/** npm run db:backup [-- --out DIR]: prints the backup's folder as its last line. */
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const log = logger('backup');
const config = loadConfig();
// The embedded cluster is shared when `npm start` runs it, and started (then stopped) when not.
const database = await openDatabase(config, log);
try {
  const { dir, manifest } = await takeBackup({
    url: database.embedded ? database.embedded.superuserUrl() : database.connections.ownerUrl,
    outDir: path.resolve(values.out ?? baseBackupsDir(config)),
    ...(database.embedded ? { embedded: { pgDataDir: database.embedded.pgDataDir, walArchive: walArchiveDir(config) } } : {}),
    fileFolders: { storage: path.join(config.dataDir, 'storage'), outbox: config.mailOutbox },
    log,
  });
  const rows = manifest.logical.tables.reduce((n, t) => n + t.rows, 0);
  log(
    `backup complete in ${manifest.seconds.toFixed(1)} s: ${(manifest.totalBytes / 1e6).toFixed(1)} MB, ${manifest.logical.tables.length} tables, ${rows} rows, ` +
      `${manifest.files.length} stored files, migration ${manifest.migration?.filename ?? 'none'}, PostgreSQL ${manifest.postgresVersion}` +
      (manifest.physical ? '' : '; no physical part (external DATABASE_URL: use your provider’s base backups and PITR)'),
  );
  console.log(dir);
} catch (error) {
  process.exitCode = 1;
  log(`backup failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await database.stop();
}
