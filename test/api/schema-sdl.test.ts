import fs from 'node:fs/promises';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testConfig } from '../support/api.ts';
import { createApi } from '../../src/server/app.ts';
import { printApiSchema } from '../../src/server/sdl.ts';
import { projectPath } from '../../src/paths.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

it('schema.graphql is the API the migrations produce (run `npm run db:schema` after changing the schema)', async () => {
  const pool = new pg.Pool({ connectionString: db.authUrl, max: 2 });
  const api = createApi(testConfig(db), pool);
  try {
    const committed = await fs.readFile(projectPath('schema.graphql'), 'utf8');
    expect(await printApiSchema(api.pgl)).toBe(committed);
  } finally {
    await api.pgl.release();
    await pool.end();
  }
});
