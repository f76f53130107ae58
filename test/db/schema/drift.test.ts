import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { projectPath } from '../../../src/paths.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';

/**
 * db/ is the whole current truth, and the migrations only copy it. So on a fully migrated
 * database, stripping every rule that db/ owns and applying every db/ file again must give back
 * exactly the catalog the migrations made. A difference is drift: a grant, trigger, policy or
 * function that only a migration holds, a file edited without a migration, a type whose file
 * never replaces it.
 */

/** Effective privileges, whatever order they were granted in; null (the default) spelled out. */
const acl = (column: string, kind: string, owner: string) => `(
  select string_agg(e, ',' order by e) from (
    select format('%s:%s%s', case a.grantee when 0 then 'PUBLIC' else a.grantee::regrole::text end, a.privilege_type,
                  case when a.is_grantable then '*' else '' end) as e
    from aclexplode(coalesce(${column}, acldefault(${kind}, ${owner}))) a) x)`;

const OURS = `('lms_public'::regnamespace, 'lms_private'::regnamespace)`;

/** One line per rule-bearing object: functions, triggers, policies, grants, types, comments. */
const FINGERPRINT = `
  select line from (
    select format('function %s(%s) returns %s%s kind=%s volatility=%s definer=%s strict=%s leakproof=%s parallel=%s config=%s owner=%s acl=%s body=%s',
        p.oid::regproc, pg_get_function_arguments(p.oid), case when p.proretset then 'setof ' else '' end, p.prorettype::regtype,
        p.prokind, p.provolatile, p.prosecdef, p.proisstrict, p.proleakproof, p.proparallel, p.proconfig, p.proowner::regrole,
        ${acl('p.proacl', `'f'`, 'p.proowner')}, md5(p.prosrc)) as line
    from pg_proc p where p.pronamespace in ${OURS}
    union all
    select format('trigger %s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
    from pg_trigger t join pg_class c on c.oid = t.tgrelid where not t.tgisinternal and c.relnamespace in ${OURS}
    union all
    select format('policy %s %s cmd=%s permissive=%s roles=%s using=%s check=%s', p.polrelid::regclass, p.polname, p.polcmd, p.polpermissive,
        (select string_agg(case r when 0 then 'PUBLIC' else r::regrole::text end, ',' order by 1) from unnest(p.polroles) r),
        pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
    from pg_policy p
    union all
    select format('relation %s kind=%s rls=%s forced=%s owner=%s acl=%s', c.oid::regclass, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
        c.relowner::regrole, ${acl('c.relacl', `(case c.relkind when 'S' then 's' else 'r' end)::"char"`, 'c.relowner')})
    from pg_class c where c.relnamespace in ${OURS} and c.relkind not in ('i', 'I', 't')
    union all
    select format('column %s.%s %s acl=%s', a.attrelid::regclass, a.attname, format_type(a.atttypid, a.atttypmod),
        (select string_agg(e, ',' order by e) from (
           select format('%s:%s', x.grantee::regrole, x.privilege_type) as e from aclexplode(a.attacl) x) y))
    from pg_attribute a join pg_class c on c.oid = a.attrelid
    where c.relnamespace in ${OURS} and c.relkind in ('r', 'v', 'm', 'c', 'p', 'f') and a.attnum > 0 and not a.attisdropped
    union all
    select format('schema %s owner=%s acl=%s', n.nspname, n.nspowner::regrole, ${acl('n.nspacl', `'n'`, 'n.nspowner')})
    from pg_namespace n where n.nspname in ('lms_public', 'lms_private', 'public')
    union all
    select format('type %s kind=%s owner=%s acl=%s', t.oid::regtype, t.typtype, t.typowner::regrole, ${acl('t.typacl', `'T'`, 't.typowner')})
    from pg_type t left join pg_class c on c.oid = t.typrelid
    where t.typnamespace in ${OURS} and t.typtype in ('c', 'd', 'e') and (c.oid is null or c.relkind = 'c')
    union all
    select format('default privileges %s %s %s %s', d.defaclrole::regrole, d.defaclnamespace::regnamespace, d.defaclobjtype, d.defaclacl)
    from pg_default_acl d
    union all
    -- By the object's description, not its oid: a dropped and recreated object keeps its identity.
    select format('comment %s %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), md5(d.description))
    from pg_description d where d.objoid >= 16384
  ) lines order by line`;

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
