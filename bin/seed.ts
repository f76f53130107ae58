import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { migrateDatabase } from '../src/db/migrate.ts';
import { describeDemoAccounts, seedDemo } from '../src/db/seed.ts';
import { logger } from '../src/log.ts';

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
