import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { projectPath } from '../../../src/paths.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { FINGERPRINT, OURS } from '../../support/catalog.ts';

/**
 * db/ is the whole current truth, and the migrations only copy it. So on a fully migrated
 * database, stripping every rule that db/ owns and applying every db/ file again must give back
 * exactly the catalog the migrations made. A difference is drift: a grant, trigger, policy or
 * function that only a migration holds, a file edited without a migration, a type whose file
 * never replaces it.
 */

const API_ROLES = 'public, lms_anonymous, lms_student, lms_instructor, lms_admin, lms_authenticator';

/**
 * Takes away what db/ owns, so that only what the files create comes back: function grants and
 * comments, triggers, policies, RLS and grants on tables, schema grants; and alters every
 * composite type, so that a file that does not replace its type leaves it altered.
 */
const STRIP = `
  do $$
  declare
    r record;
  begin
    for r in select p.oid::regprocedure as f from pg_proc p where p.pronamespace in ${OURS} loop
      execute format('revoke all on function %s from ${API_ROLES}', r.f);
      execute format('comment on function %s is null', r.f);
    end loop;
    for r in select t.tgname, t.tgrelid::regclass as rel from pg_trigger t join pg_class c on c.oid = t.tgrelid
             where not t.tgisinternal and c.relnamespace in ${OURS} loop
      execute format('drop trigger %I on %s', r.tgname, r.rel);
    end loop;
    for r in select p.polname, p.polrelid::regclass as rel from pg_policy p loop
      execute format('drop policy %I on %s', r.polname, r.rel);
    end loop;
    for r in select c.oid::regclass as rel, c.relkind from pg_class c where c.relnamespace in ${OURS} and c.relkind in ('r', 'p', 'v', 'm') loop
      execute format('revoke all on %s from ${API_ROLES}', r.rel);
      if r.relkind in ('r', 'p') then
        execute format('alter table %s disable row level security', r.rel);
      end if;
    end loop;
    revoke all on schema lms_public, lms_private from ${API_ROLES};
    for r in select t.oid::regtype as typ from pg_type t join pg_class c on c.oid = t.typrelid
             where t.typnamespace in ${OURS} and c.relkind = 'c' loop
      execute format('alter type %s add attribute drift_probe integer', r.typ);
    end loop;
  end
  $$`;

/** The functions whose pg_proc row no file rewrote: defined only by a migration. */
const ROW_VERSIONS = `select p.oid::regprocedure::text as name, p.ctid::text as version from pg_proc p where p.pronamespace in ${OURS}`;

/** The files a migration includes, in their order (db/order.txt). */
async function orderedFiles(): Promise<string[]> {
  const text = await fs.readFile(projectPath('db', 'order.txt'), 'utf8');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

async function sqlFilesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(projectPath('db', dir), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) => {
      const relative = path.posix.join(dir, e.name);
      if (e.isDirectory()) return sqlFilesUnder(relative);
      return Promise.resolve(e.name.endsWith('.sql') ? [relative] : []);
    }),
  );
  return nested.flat();
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.close());

it('db/order.txt lists every file under db/ that migrations include, once', async () => {
  const listed = await orderedFiles();
  const onDisk = (await sqlFilesUnder('.')).map((f) => path.posix.normalize(f));
  const notIncluded = ['roles.sql'];
  expect(new Set(listed).size).toBe(listed.length);
  expect([...listed].sort()).toEqual(onDisk.filter((f) => !notIncluded.includes(f) && !f.startsWith('seed/')).sort());
});

it('stripping what db/ owns and applying every db/ file again gives back the catalog the migrations made', async () => {
  const owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  try {
    const fingerprint = async () => (await owner.query<{ line: string }>(FINGERPRINT)).rows.map((r) => r.line);
    const before = await fingerprint();
    expect(before.length).toBeGreaterThan(500);
    // As graphile-migrate runs a migration: the owner, one transaction.
    await owner.query('begin');
    await owner.query(STRIP);
    const stripped = new Map((await owner.query<{ name: string; version: string }>(ROW_VERSIONS)).rows.map((r) => [r.name, r.version]));
    for (const file of await orderedFiles()) await owner.query(await fs.readFile(projectPath('db', file), 'utf8'));
    const notInDb = (await owner.query<{ name: string; version: string }>(ROW_VERSIONS)).rows.filter((r) => stripped.get(r.name) === r.version);
    const after = await fingerprint();
    await owner.query('rollback');
    expect(notInDb.map((r) => r.name)).toEqual([]);
    const [was, is] = [new Set(before), new Set(after)];
    expect({ lost: before.filter((l) => !is.has(l)), gained: after.filter((l) => !was.has(l)) }).toEqual({ lost: [], gained: [] });
  } finally {
    await owner.end();
  }
});
