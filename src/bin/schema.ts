import './env.ts';
import fs from 'node:fs/promises';
import pg from 'pg';
import { loadConfig } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { createApi } from '../server/app.ts';
import { printApiSchema } from '../server/sdl.ts';
import { logger } from '../log.ts';
import { projectPath } from '../paths.ts';

/** Writes schema.graphql from the migrated database; a test checks that the file is current. */
const log = logger('schema');
const config = loadConfig();
const database = await openDatabase(config, log);
try {
  await migrateDatabase(database.connections);
  const pool = new pg.Pool({ connectionString: database.connections.authUrl });
  const api = createApi(config, pool);
  try {
    await fs.writeFile(projectPath('schema.graphql'), await printApiSchema(api.pgl));
    log('wrote schema.graphql');
  } finally {
    await api.pgl.release();
    await pool.end();
  }
} finally {
  await database.stop();
}
