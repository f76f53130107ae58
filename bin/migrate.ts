import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { migrateDatabase } from '../src/db/migrate.ts';
import { logger } from '../src/log.ts';

const log = logger('migrate');
const config = loadConfig();
const database = await openDatabase(config, log);
try {
  await migrateDatabase(database.connections, log);
  log('database is at the latest committed migration');
} catch (error) {
  process.exitCode = 1;
  log(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await database.stop();
}
