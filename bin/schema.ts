import './env.ts';
import fs from 'node:fs/promises';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { migrateDatabase } from '../src/db/migrate.ts';
import { createApi } from '../src/server/app.ts';
import { makeApiPools } from '../src/db/pools.ts';
import { printApiSchema } from '../src/server/sdl.ts';
import { logger } from '../src/log.ts';
import { projectPath } from '../src/paths.ts';

/** Writes schema.graphql from the migrated database; a test checks that the file is current. */
const log = logger('schema');
const config = loadConfig();
const database = await openDatabase(config, log);
try {
  await migrateDatabase(database.connections);
  const pools = makeApiPools(config, database.connections.authUrl, (e) => log(e.message), { graphql: 1, session: 1 });
  const api = createApi(config, pools);
  try {
    await fs.writeFile(projectPath('schema.graphql'), await printApiSchema(api.pgl));
    log('wrote schema.graphql');
  } finally {
    await api.pgl.release();
    await pools.end();
  }
} finally {
  await database.stop();
}
