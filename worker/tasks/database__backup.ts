import path from 'node:path';
import type { Task } from 'graphile-worker';
import type { Config } from '../../src/config.ts';
import { pruneBackups, takeBackup } from '../../src/db/backup.ts';
import { baseBackupsDir, EMBEDDED_SUPERUSER_PASSWORD, walArchiveDir } from '../../src/db/database.ts';
import { EmbeddedPostgres } from '../../src/db/embedded.ts';

/**
 * The daily base backup of the embedded cluster (the seed's section 8), then retention: backups and
 * archived WAL older than LMS_BACKUP_RETENTION_DAYS go, the newest backup always stays. Against an
 * external DATABASE_URL the provider's backups and PITR do this job (docs/operations.md), and
 * the crontab does not schedule it.
 */
export default function databaseBackup(config: Config): Task {
  return async (_payload, helpers) => {
    if (config.databaseUrl !== undefined) {
      helpers.logger.info('skipped: DATABASE_URL is external; its provider takes the base backups');
      return;
    }
    // The cluster this process runs, addressed as db:backup addresses it.
    const cluster = new EmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, password: EMBEDDED_SUPERUSER_PASSWORD });
    const { dir, manifest } = await takeBackup({
      url: cluster.superuserUrl(),
      outDir: baseBackupsDir(config),
      embedded: { pgDataDir: cluster.pgDataDir, walArchive: walArchiveDir(config) },
      fileFolders: { storage: path.join(config.dataDir, 'storage'), outbox: config.mailOutbox },
    });
    helpers.logger.info(`backup ${dir}: ${(manifest.totalBytes / 1e6).toFixed(1)} MB in ${manifest.seconds.toFixed(1)} s`);
    const removed = await pruneBackups(baseBackupsDir(config), walArchiveDir(config), config.backupRetentionDays);
    helpers.logger.info(`retention ${config.backupRetentionDays} days: removed ${removed.backups.length} backups and ${removed.wal} WAL segments`);
  };
}
