import { loadConfig } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { describeDemoAccounts, seedDemo } from '../db/seed.ts';
import { logger } from '../log.ts';

const log = logger('seed');
const config = loadConfig();
if (config.isProduction) {
  log('production never seeds demo data');
  process.exit(1);
}
const database = await openDatabase(config, log);
try {
  await migrateDatabase(database.connections, log);
  if (await seedDemo(database.connections.ownerUrl, config.bcryptCost, { onlyIfEmpty: false })) {
    log(['demo data written; development-only accounts:', ...describeDemoAccounts()].join('\n'));
  } else {
    log('the demo data is already there');
  }
} catch (error) {
  process.exitCode = 1;
  log(`seeding failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await database.stop();
}
