import fs from 'node:fs/promises';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { testConfig } from '../../support/api.ts';
import { createApi } from '../../../src/server/app.ts';
import { makeApiPools } from '../../../src/db/pools.ts';
import { printApiSchema } from '../../../src/server/sdl.ts';
import { projectPath } from '../../../src/paths.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

it('schema.graphql is the API the migrations produce (run `npm run db:schema` after changing the schema)', async () => {
  const config = testConfig(db);
  const pools = makeApiPools(config, db.authUrl, () => {}, { graphql: 1, session: 1 });
  const api = createApi(config, pools);
  try {
    const committed = await fs.readFile(projectPath('schema.graphql'), 'utf8');
    expect(await printApiSchema(api.pgl)).toBe(committed);
  } finally {
    await api.pgl.release();
    await pools.end();
  }
});
