import fs from 'node:fs/promises';
import { createMigratedDatabase, superuserUrl, withClient } from '../../../src/db/scratch-cluster.ts';
import { baseUrl } from '../../support/db.ts';
import { loadConfig } from '../../../src/config.ts';
import { resolveConnections } from '../../../src/db/connections.ts';
import { migrateDatabase } from '../../../src/db/migrate.ts';
import { projectPath } from '../../../src/paths.ts';

const DATABASE = `coursebase_test_migrations_${process.env.JEST_WORKER_ID ?? '0'}`;

/** Everything a migration could change, reduced to one hash. */
const FINGERPRINT = `
  select md5(string_agg(line, E'\\n' order by line)) as fingerprint, count(*) as lines from (
    select format('class %s.%s %s %s %s', n.nspname, c.relname, c.relkind, c.relacl, c.relrowsecurity) as line
      from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
    union all select format('proc %s %s %s %s', p.oid::regprocedure, md5(p.prosrc), p.proacl, p.proconfig) from pg_proc p
      join pg_namespace n on n.oid = p.pronamespace where n.nspname not in ('pg_catalog', 'information_schema')
    union all select format('policy %s %s %s', polrelid::regclass, polname, pg_get_expr(polqual, polrelid)) from pg_policy
    union all select format('constraint %s %s', conname, pg_get_constraintdef(oid)) from pg_constraint
    union all select format('trigger %s %s', tgrelid::regclass, tgname) from pg_trigger
    union all select format('comment %s %s %s', classoid, objoid, md5(description)) from pg_description
    union all select format('role %s %s %s %s', rolname, rolinherit, rolcanlogin, rolconfig) from pg_roles where rolname like 'lms\\_%'
    union all select format('setting %s %s', setrole::regrole, setconfig) from pg_db_role_setting
    union all select format('database owner %s', datdba::regrole) from pg_database where datname = current_database()
    union all select format('migration %s %s', filename, hash) from graphile_migrate.migrations
    union all select format('worker migration %s', id) from graphile_worker.migrations
  ) lines`;

beforeAll(() => createMigratedDatabase(baseUrl(), DATABASE));
afterAll(() => withClient(superuserUrl(baseUrl(), 'postgres'), (c) => c.query(`drop database if exists ${DATABASE} with (force)`)));

it('applies every committed migration to an empty database, and a second run changes nothing', async () => {
  const url = superuserUrl(baseUrl(), DATABASE);
  const committed = (await fs.readdir(projectPath('migrations', 'committed')))
    .filter((f) => f.endsWith('.sql'))
    .map((f) => `${f.split(/[-.]/)[0]}.sql`)
    .sort();
  const fingerprint = () => withClient(url, async (c) => (await c.query(FINGERPRINT)).rows[0]);

  const applied = await withClient(url, async (c) =>
    (await c.query('select filename from graphile_migrate.migrations order by filename')).rows.map((r) => r.filename),
  );
  expect(applied).toEqual(committed);
  const before = await fingerprint();
  expect(Number(before.lines)).toBeGreaterThan(500);

  const log: string[] = [];
  await migrateDatabase(await resolveConnections(loadConfig({ NODE_ENV: 'test', DATABASE_URL: url })), (m) => log.push(m));
  expect(log).toContain('graphile-migrate: Already up to date');
  expect(await fingerprint()).toEqual(before);
});

it('leaves the objects owned by lms_owner, and the database too', async () => {
  const url = superuserUrl(baseUrl(), DATABASE);
  const owners = await withClient(url, async (c) =>
    (
      await c.query(`
        select distinct pg_get_userbyid(c.relowner) as owner from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('lms_public', 'lms_private', 'graphile_worker', 'graphile_migrate')
        union select pg_get_userbyid(datdba) from pg_database where datname = current_database()`)
    ).rows.map((r) => r.owner),
  );
  expect(owners).toEqual(['lms_owner']);
});
