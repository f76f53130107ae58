import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../../src/config.ts';
import { resolveConnections } from '../../../src/db/connections.ts';
import { migrateDatabase } from '../../../src/db/migrate.ts';
import { migrationsFolderUpTo } from '../../../src/db/restore.ts';
import { superuserUrl, withClient } from '../../../src/db/scratch-cluster.ts';
import { projectPath } from '../../../src/paths.ts';
import { baseUrl } from '../../support/db.ts';
import { FINGERPRINT } from '../../support/catalog.ts';

/*
 * graphile-migrate is forward-only: a released migration is undone by a new one. The example in
 * docs/operations.md, docs/rollback/revert-000017.sql, must do exactly that: on a database at
 * 000017, give back the catalog of a database at 000016. Both are built here from the committed
 * migrations, so the example stays true whatever is committed after it.
 */

const REVERTED = 17;
const databases = [`coursebase_rollback_${REVERTED - 1}_${process.pid}`, `coursebase_rollback_${REVERTED}_${process.pid}`] as const;
let temp: string;

async function migratedTo(level: number, database: string): Promise<string> {
  const url = superuserUrl(baseUrl(), database);
  const folder = await migrationsFolderUpTo(level, path.join(temp, String(level)));
  for (let attempt = 1; ; attempt++) {
    await withClient(superuserUrl(baseUrl(), 'postgres'), async (c) => {
      await c.query(`drop database if exists ${c.escapeIdentifier(database)} with (force)`);
      await c.query(`create database ${c.escapeIdentifier(database)}`);
    });
    try {
      await migrateDatabase(await resolveConnections(loadConfig({ NODE_ENV: 'test', DATABASE_URL: url })), () => {}, folder);
      return url;
    } catch (error) {
      // db/roles.sql alters cluster-wide roles; run by another test file's migration at the same
      // moment (migrations.test.ts), PostgreSQL can refuse one with "tuple concurrently updated".
      if (attempt >= 3 || !/concurrently/.test(String((error as Error).message))) throw error;
    }
  }
}

beforeAll(async () => {
  temp = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-rollback-'));
}, 10_000);

afterAll(async () => {
  await withClient(superuserUrl(baseUrl(), 'postgres'), async (c) => {
    for (const d of databases) await c.query(`drop database if exists ${c.escapeIdentifier(d)} with (force)`);
  });
  await fs.rm(temp, { recursive: true, force: true });
});

it(`the documented revert of migration ${REVERTED}, applied as a migration would be, restores ${REVERTED - 1}'s catalog`, async () => {
  // One after the other: both bootstrap the cluster-wide roles, which must not race.
  const previousUrl = await migratedTo(REVERTED - 1, databases[0]);
  const revertedUrl = await migratedTo(REVERTED, databases[1]);
  const fingerprint = (client: pg.ClientBase) => client.query<{ line: string }>(FINGERPRINT).then((r) => r.rows.map((row) => row.line));
  const previous = await withClient(previousUrl, fingerprint);
  const sql = await fs.readFile(projectPath('docs', 'rollback', `revert-${String(REVERTED).padStart(6, '0')}.sql`), 'utf8');
  // As graphile-migrate runs a migration: the owner, one transaction; rolled back after.
  const owner = new pg.Client({ connectionString: (await resolveConnections(loadConfig({ NODE_ENV: 'test', DATABASE_URL: revertedUrl }))).ownerUrl });
  await owner.connect();
  try {
    const before = await fingerprint(owner);
    expect(before).not.toEqual(previous);
    await owner.query('begin');
    await owner.query(sql);
    const after = await fingerprint(owner);
    await owner.query('rollback');
    const [was, is] = [new Set(previous), new Set(after)];
    expect({ missing: previous.filter((l) => !is.has(l)), extra: after.filter((l) => !was.has(l)) }).toEqual({ missing: [], extra: [] });
  } finally {
    await owner.end();
  }
}, 60_000);
