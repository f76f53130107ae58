import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';

// Structural rules of DESIGN.md's security model, read from the catalog (EXAMPLES.md 3, 4, 6, 15).
// Each check is a function of a client, so that a rolled-back transaction can break the schema
// and show that the same query names the offender.

const SCHEMAS = ['lms_public', 'lms_private'];
const AUTHENTICATOR = 'lms_authenticator';
const VISITORS = ['lms_anonymous', 'lms_student', 'lms_instructor', 'lms_admin'];
const API_ROLES = [AUTHENTICATOR, ...VISITORS];

// The whole INSERT/UPDATE surface that API roles hold, table- or column-level. PostGraphile
// generates a mutation for each of these, so a new entry is an API change to review.
const COURSE_COLUMNS = 'category, course_metadata, currency, description, difficulty_level, estimated_duration_minutes';
const LESSON_COLUMNS =
  'content, course_id, description, duration_minutes, is_preview, lesson_metadata, lesson_type, order_index, parent_lesson_id, slug, title, video_url';
const LESSON_UPDATE_COLUMNS = 'content, description, duration_minutes, is_preview, lesson_metadata, lesson_type, parent_lesson_id, slug, title, video_url';
const QUIZ_COLUMNS = 'description, is_published';
const QUIZ_TAIL = 'max_attempts, passing_score, quiz_type, show_correct_answers, shuffle_options, shuffle_questions, time_limit_minutes, title';
const PLAN_COLUMNS = 'amount, currency, description, granted_categories, granted_course_ids, grants, interval, is_active, name, stripe_price_id';
const WRITE_ALLOWLIST = [
  'lms_admin: UPDATE (full_name, profile_metadata) ON lms_public.users',
  'lms_instructor: UPDATE (full_name, profile_metadata) ON lms_public.users',
  'lms_student: UPDATE (full_name, profile_metadata) ON lms_public.users',
  // Instructors author their courses and lessons; publishing and counters go through functions.
  `lms_admin: INSERT (${COURSE_COLUMNS}, instructor_id, min_video_watch_percent, price, slug, thumbnail_url, title) ON lms_public.courses`,
  `lms_instructor: INSERT (${COURSE_COLUMNS}, min_video_watch_percent, price, slug, thumbnail_url, title) ON lms_public.courses`,
  `lms_admin: UPDATE (${COURSE_COLUMNS}, min_video_watch_percent, price, slug, thumbnail_url, title) ON lms_public.courses`,
  `lms_instructor: UPDATE (${COURSE_COLUMNS}, min_video_watch_percent, price, slug, thumbnail_url, title) ON lms_public.courses`,
  `lms_admin: INSERT (${LESSON_COLUMNS}) ON lms_public.lessons`,
  `lms_instructor: INSERT (${LESSON_COLUMNS}) ON lms_public.lessons`,
  `lms_admin: UPDATE (${LESSON_UPDATE_COLUMNS}) ON lms_public.lessons`,
  `lms_instructor: UPDATE (${LESSON_UPDATE_COLUMNS}) ON lms_public.lessons`,
  // A student's own rating and review (RLS: own enrollment, active or completed).
  'lms_admin: UPDATE (rating, review) ON lms_public.enrollments',
  'lms_instructor: UPDATE (rating, review) ON lms_public.enrollments',
  'lms_student: UPDATE (rating, review) ON lms_public.enrollments',
  // Quiz settings; questions and keys go through save_quiz_question, attempts through functions.
  `lms_admin: INSERT (${QUIZ_COLUMNS}, lesson_id, ${QUIZ_TAIL}) ON lms_public.quizzes`,
  `lms_instructor: INSERT (${QUIZ_COLUMNS}, lesson_id, ${QUIZ_TAIL}) ON lms_public.quizzes`,
  `lms_admin: UPDATE (${QUIZ_COLUMNS}, ${QUIZ_TAIL}) ON lms_public.quizzes`,
  `lms_instructor: UPDATE (${QUIZ_COLUMNS}, ${QUIZ_TAIL}) ON lms_public.quizzes`,
  // Admins manage the plans; payments and subscriptions change only through checkout and Stripe's events.
  `lms_admin: INSERT (${PLAN_COLUMNS}) ON lms_public.plans`,
  `lms_admin: UPDATE (${PLAN_COLUMNS}) ON lms_public.plans`,
];

// DELETE is granted on whole tables where RLS decides: instructors delete their own drafts.
const DELETE_ALLOWLIST = [
  'lms_admin: DELETE ON lms_public.courses',
  'lms_admin: DELETE ON lms_public.plans',
  'lms_instructor: DELETE ON lms_public.courses',
  'lms_admin: DELETE ON lms_public.quiz_questions',
  'lms_instructor: DELETE ON lms_public.quiz_questions',
  'lms_admin: DELETE ON lms_public.quizzes',
  'lms_instructor: DELETE ON lms_public.quizzes',
];

// Anchors from both schemas: a query that misses them is looking in the wrong place.
const KNOWN_TABLES = ['lms_public.users', 'lms_public.payments', 'lms_private.user_passwords', 'lms_private.refresh_tokens'];

type Client = pg.ClientBase;

const notExtensionMember = (oid: string, catalog: string) =>
  `not exists (select from pg_depend d where d.classid = '${catalog}'::regclass and d.objid = ${oid} and d.deptype = 'e')`;

const FUNCTIONS = `
  select p.oid, n.nspname, format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as name
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where n.nspname = any($1) and ${notExtensionMember('p.oid', 'pg_proc')}`;

const TABLES = `
  select c.oid, n.nspname, format('%I.%I', n.nspname, c.relname) as name
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = any($1) and c.relkind in ('r', 'p')`;

async function rows<R extends pg.QueryResultRow>(client: Client, sql: string, params: unknown[] = [SCHEMAS]): Promise<R[]> {
  return (await client.query<R>(sql, params)).rows;
}

async function tableNames(client: Client): Promise<string[]> {
  return (await rows<{ name: string }>(client, TABLES)).map((r) => r.name).sort();
}

async function functionNames(client: Client): Promise<string[]> {
  return (await rows<{ name: string }>(client, FUNCTIONS)).map((r) => r.name).sort();
}

async function tablesWithoutRls(client: Client): Promise<string[]> {
  const found = await rows<{ name: string }>(client, `select t.name from (${TABLES}) t join pg_class c on c.oid = t.oid where not c.relrowsecurity`);
  return found.map((r) => r.name).sort();
}

async function securityDefinerFunctions(client: Client): Promise<{ name: string; searchPath: string | null }[]> {
  return rows(
    client,
    `select f.name, (select substr(s, length('search_path=') + 1) from unnest(p.proconfig) s where s like 'search_path=%') as "searchPath"
     from (${FUNCTIONS}) f join pg_proc p on p.oid = f.oid
     where p.prosecdef`,
  );
}

// pg_catalog first, so that nothing shadows a built-in; pg_temp listed (last), because an unlisted
// pg_temp is searched before everything else for relations.
async function unpinnedDefiners(client: Client): Promise<string[]> {
  const offenders: string[] = [];
  for (const { name, searchPath } of await securityDefinerFunctions(client)) {
    const path = (searchPath ?? '').split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
    if (searchPath === null || path[0] !== 'pg_catalog' || path.at(-1) !== 'pg_temp') {
      offenders.push(`${name}: search_path=${searchPath ?? '(not set)'}`);
    }
  }
  return offenders.sort();
}

// What makes an API role dangerous: superuser, BYPASSRLS, a visitor that can log in, or an
// authenticator that inherits its visitors' rights without SET ROLE.
async function roleProblems(client: Client): Promise<string[]> {
  const roles = await rows<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; rolinherit: boolean; rolcanlogin: boolean }>(
    client,
    'select rolname, rolsuper, rolbypassrls, rolinherit, rolcanlogin from pg_roles where rolname = any($1)',
    [API_ROLES],
  );
  const problems = API_ROLES.filter((name) => !roles.some((r) => r.rolname === name)).map((name) => `${name}: missing`);
  for (const r of roles) {
    if (r.rolsuper) problems.push(`${r.rolname}: SUPERUSER`);
    if (r.rolbypassrls) problems.push(`${r.rolname}: BYPASSRLS`);
    if (r.rolname === AUTHENTICATOR) {
      if (!r.rolcanlogin) problems.push(`${r.rolname}: NOLOGIN`);
      if (r.rolinherit) problems.push(`${r.rolname}: INHERIT`);
    } else if (r.rolcanlogin) {
      problems.push(`${r.rolname}: LOGIN`);
    }
  }
  return problems.sort();
}

// Every object of the two schemas with its owner: the schemas, relations, functions and types.
const OWNED_OBJECTS = `
  select format('schema %I', n.nspname) as name, n.nspowner as owner from pg_namespace n where n.nspname = any($1)
  union all
  select format('%s %I.%I', case c.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view'
           when 'm' then 'materialized view' when 'S' then 'sequence' when 'f' then 'foreign table' when 'c' then 'type' else 'relation' end,
         n.nspname, c.relname), c.relowner
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f', 'c')
  union all
  select 'function ' || f.name, p.proowner from (${FUNCTIONS}) f join pg_proc p on p.oid = f.oid
  union all
  select format('type %I.%I', n.nspname, t.typname), t.typowner
  from pg_type t join pg_namespace n on n.oid = t.typnamespace
  where n.nspname = any($1) and ${notExtensionMember('t.oid', 'pg_type')}
    -- Row types and implicit array types follow their relation or element type.
    and t.typrelid = 0 and not exists (select from pg_type e where e.typarray = t.oid)`;

async function ownedObjects(client: Client): Promise<{ name: string; owner: string }[]> {
  const found = await rows<{ name: string; owner: string }>(client, `select o.name, o.owner::regrole::text as owner from (${OWNED_OBJECTS}) o`);
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// A comment's smart tags (leading @ lines) are not documentation; what follows them is.
function undocumented<R extends { name: string; comment: string | null }>(found: R[]): string[] {
  return found
    .filter((r) => (r.comment ?? '').replace(/^(?:@[^\n]*(?:\n|$))*/, '').trim() === '')
    .map((r) => r.name)
    .sort();
}

const RELATIONS_TO_DOCUMENT = `
  select c.oid, format('%I.%I', n.nspname, c.relname) as name
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'm', 'f')`;

async function relationComments(client: Client) {
  return rows<{ name: string; comment: string | null }>(
    client,
    `select r.name, obj_description(r.oid, 'pg_class') as comment from (${RELATIONS_TO_DOCUMENT}) r`,
  );
}

async function columnComments(client: Client) {
  return rows<{ name: string; comment: string | null }>(
    client,
    `select format('%s.%I', r.name, a.attname) as name, col_description(r.oid, a.attnum) as comment
     from (${RELATIONS_TO_DOCUMENT}) r join pg_attribute a on a.attrelid = r.oid
     where a.attnum > 0 and not a.attisdropped`,
  );
}

async function functionComments(client: Client) {
  return rows<{ name: string; comment: string | null }>(client, `select f.name, obj_description(f.oid, 'pg_proc') as comment from (${FUNCTIONS}) f`);
}

// Effective privileges (has_*_privilege), so that grants to PUBLIC and to roles an API role
// inherits from count as well as direct ones. The authenticator is NOINHERIT, so this is what
// it holds before SET ROLE.
const TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'];
const COLUMN_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'REFERENCES'];

interface Grant {
  role: string;
  privilege: string;
  schema: string;
  table: string;
  /** null for a table-level privilege; else the columns granted without the table-level one. */
  columns: string[] | null;
}

async function apiRoleGrants(client: Client): Promise<Grant[]> {
  const found = await rows<{ role: string; privilege: string; nspname: string; name: string; columns: string[] | null }>(
    client,
    `with t as (${TABLES}), r as (select unnest($2::text[]) as role)
     select r.role, p.privilege, t.nspname, t.name, null::text[] as columns
     from t cross join r cross join unnest($3::text[]) p(privilege)
     where has_table_privilege(r.role, t.oid, p.privilege)
     union all
     select r.role, p.privilege, t.nspname, t.name, array_agg(a.attname::text order by a.attname)
     from t cross join r cross join unnest($4::text[]) p(privilege)
       join pg_attribute a on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
     where not has_table_privilege(r.role, t.oid, p.privilege)
       and has_column_privilege(r.role, t.oid, a.attnum, p.privilege)
     group by r.role, p.privilege, t.nspname, t.name`,
    [SCHEMAS, API_ROLES, TABLE_PRIVILEGES, COLUMN_PRIVILEGES],
  );
  return found.map((g) => ({ role: g.role, privilege: g.privilege, schema: g.nspname, table: g.name, columns: g.columns }));
}

const describeGrant = (g: Grant) => `${g.role}: ${g.privilege}${g.columns ? ` (${g.columns.join(', ')})` : ''} ON ${g.table}`;

async function writeGrants(client: Client): Promise<string[]> {
  const grants = await apiRoleGrants(client);
  return grants
    .filter((g) => g.privilege === 'INSERT' || g.privilege === 'UPDATE')
    .map(describeGrant)
    .sort();
}

async function privateTableGrants(client: Client): Promise<string[]> {
  return (await apiRoleGrants(client))
    .filter((g) => g.schema === 'lms_private')
    .map(describeGrant)
    .sort();
}

async function destructiveGrants(client: Client): Promise<string[]> {
  const destructive = new Set(['DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES']);
  return (await apiRoleGrants(client))
    .filter((g) => destructive.has(g.privilege))
    .map(describeGrant)
    .filter((g) => !DELETE_ALLOWLIST.includes(g))
    .sort();
}

// A NULL proacl means the default, which lets PUBLIC execute: acldefault spells that out.
async function publicExecutableFunctions(client: Client): Promise<string[]> {
  const found = await rows<{ name: string }>(
    client,
    `select f.name from (${FUNCTIONS}) f join pg_proc p on p.oid = f.oid
     where exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                   where a.grantee = 0 and a.privilege_type = 'EXECUTE')`,
  );
  return found.map((r) => r.name).sort();
}

async function triggers(client: Client): Promise<{ trigger: string; name: string }[]> {
  const found = await rows<{ trigger: string; name: string }>(
    client,
    `select tg.tgname as trigger, format('%I ON %s', tg.tgname, t.name) as name
     from (${TABLES}) t join pg_trigger tg on tg.tgrelid = t.oid
     where not tg.tgisinternal`,
  );
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function misnamedTriggers(client: Client): Promise<string[]> {
  return (await triggers(client)).filter((t) => !/^_\d{3}_/.test(t.trigger)).map((t) => t.name);
}

// The only reads of one RLS table from another's policy: each table's policies may read, under
// their own policies, the tables before it here, never after. Reading down one order cannot
// recurse; any other read goes through a definer helper in db/access.sql (db/CONVENTIONS.md).
const POLICY_READ_ORDER = [
  'lms_public.courses',
  'lms_public.lessons',
  'lms_public.quizzes',
  'lms_public.lesson_progress',
  'lms_public.quiz_attempts',
  'lms_public.quiz_answer_grades',
];

// PostgreSQL records every relation a policy's expressions read as a dependency of the policy.
async function policyReads(client: Client): Promise<string[]> {
  const found = await rows<{ policy: string; own: string; reads: string }>(
    client,
    `select distinct pol.polname as policy, pol.polrelid::regclass::text as own, d.refobjid::regclass::text as reads
     from pg_policy pol
     join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = pol.oid and d.refclassid = 'pg_class'::regclass
     join pg_class r on r.oid = d.refobjid
     where d.refobjid <> pol.polrelid and r.relrowsecurity`,
    [],
  );
  return found.map((r) => `${r.policy} ON ${r.own} reads ${r.reads}`).sort();
}

async function policyReadsAgainstOrder(client: Client): Promise<string[]> {
  const rank = (table: string) => POLICY_READ_ORDER.indexOf(table);
  return (await policyReads(client)).filter((line) => {
    const [, own, reads] = /ON (\S+) reads (\S+)$/.exec(line)!;
    return rank(own!) < 0 || rank(reads!) < 0 || rank(reads!) >= rank(own!);
  });
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

describe('row level security', () => {
  it('is enabled on every table of lms_public and lms_private', () =>
    db.asRoot(async (c) => {
      expect(await tableNames(c)).toEqual(expect.arrayContaining(KNOWN_TABLES));
      expect(await tablesWithoutRls(c)).toEqual([]);
    }));

  it('the check names a table whose RLS is off', () =>
    db.asRoot(async (c) => {
      await c.query('alter table lms_private.refresh_tokens disable row level security');
      expect(await tablesWithoutRls(c)).toEqual(['lms_private.refresh_tokens']);
    }));
});

describe('SECURITY DEFINER functions', () => {
  it('pin search_path, starting with pg_catalog and ending with pg_temp', () =>
    db.asRoot(async (c) => {
      expect((await securityDefinerFunctions(c)).map((f) => f.name)).toContain(
        'lms_private.add_job(identifier text, payload jsonb, job_key text, run_at timestamp with time zone, max_attempts integer)',
      );
      expect(await unpinnedDefiners(c)).toEqual([]);
    }));

  it('the check names a definer without search_path, or with a path that does not start with pg_catalog and end with pg_temp', () =>
    db.asRoot(async (c) => {
      await c.query('alter function lms_private.is_admin() security definer');
      await c.query('alter function lms_private.is_admin() reset search_path');
      await c.query('alter function lms_private.current_user_id() security definer');
      await c.query('alter function lms_private.current_user_id() set search_path = public, pg_catalog, pg_temp');
      await c.query('alter function lms_public.current_user_profile() security definer');
      await c.query('alter function lms_public.current_user_profile() set search_path = pg_catalog, public');
      expect(await unpinnedDefiners(c)).toEqual([
        'lms_private.current_user_id(): search_path=public, pg_catalog, pg_temp',
        'lms_private.is_admin(): search_path=(not set)',
        'lms_public.current_user_profile(): search_path=pg_catalog, public',
      ]);
    }));
});

describe('API roles', () => {
  it('own nothing in lms_public or lms_private', () =>
    db.asRoot(async (c) => {
      const objects = await ownedObjects(c);
      expect(objects.map((o) => o.name)).toEqual(expect.arrayContaining(['schema lms_public', 'table lms_public.users', 'function lms_private.is_admin()']));
      expect(objects.filter((o) => API_ROLES.includes(o.owner)).map((o) => `${o.name} (owner ${o.owner})`)).toEqual([]);
    }));

  it('lms_owner owns every object, as DESIGN.md says', () =>
    db.asRoot(async (c) => {
      expect((await ownedObjects(c)).filter((o) => o.owner !== 'lms_owner').map((o) => `${o.name} (owner ${o.owner})`)).toEqual([]);
    }));

  it('the ownership check names an object owned by an API role', () =>
    db.asRoot(async (c) => {
      await c.query('alter table lms_public.courses owner to lms_instructor');
      await c.query('alter function lms_private.is_admin() owner to lms_authenticator');
      expect((await ownedObjects(c)).filter((o) => API_ROLES.includes(o.owner)).map((o) => `${o.name} (owner ${o.owner})`)).toEqual([
        'function lms_private.is_admin() (owner lms_authenticator)',
        'table lms_public.courses (owner lms_instructor)',
      ]);
    }));

  it('are neither superusers nor BYPASSRLS; only the NOINHERIT authenticator can log in', () =>
    db.asRoot(async (c) => {
      expect(await roleProblems(c)).toEqual([]);
    }));

  it('the role check names each dangerous attribute', () =>
    db.asRoot(async (c) => {
      await c.query('alter role lms_authenticator inherit nologin');
      await c.query('alter role lms_student login bypassrls');
      await c.query('alter role lms_admin superuser');
      expect(await roleProblems(c)).toEqual([
        'lms_admin: SUPERUSER',
        'lms_authenticator: INHERIT',
        'lms_authenticator: NOLOGIN',
        'lms_student: BYPASSRLS',
        'lms_student: LOGIN',
      ]);
    }));
});

describe('comments', () => {
  it('document every table and view of lms_public and lms_private', () =>
    db.asRoot(async (c) => {
      const found = await relationComments(c);
      expect(found.map((r) => r.name)).toEqual(expect.arrayContaining(KNOWN_TABLES));
      expect(undocumented(found)).toEqual([]);
    }));

  it('document every column', () =>
    db.asRoot(async (c) => {
      const found = await columnComments(c);
      expect(found.map((r) => r.name)).toEqual(expect.arrayContaining(['lms_public.users.email', 'lms_private.user_passwords.password_hash']));
      expect(undocumented(found)).toEqual([]);
    }));

  it('document every function, exposed or private', () =>
    db.asRoot(async (c) => {
      const found = await functionComments(c);
      expect(found.map((r) => r.name)).toEqual(expect.arrayContaining(['lms_public.current_user_profile()', 'lms_private.is_admin()']));
      expect(undocumented(found)).toEqual([]);
    }));

  it('the checks name what is undocumented; smart tags alone are not documentation', () =>
    db.asRoot(async (c) => {
      await c.query('comment on table lms_private.refresh_tokens is null');
      await c.query("comment on column lms_public.courses.slug is '  '");
      await c.query("comment on function lms_public.current_user_profile() is E'@name current_user\\n'");
      await c.query('create function lms_private.undocumented() returns int language sql as $$ select 1 $$');
      expect(undocumented(await relationComments(c))).toEqual(['lms_private.refresh_tokens']);
      expect(undocumented(await columnComments(c))).toEqual(['lms_public.courses.slug']);
      expect(undocumented(await functionComments(c))).toEqual(['lms_private.undocumented()', 'lms_public.current_user_profile()']);
    }));
});

describe('visitor grants', () => {
  it('INSERT and UPDATE are exactly the allowlist', () =>
    db.asRoot(async (c) => {
      const granted = await writeGrants(c);
      expect({
        notInAllowlist: granted.filter((g) => !WRITE_ALLOWLIST.includes(g)),
        allowlistedButNotGranted: WRITE_ALLOWLIST.filter((g) => !granted.includes(g)),
      }).toEqual({ notInAllowlist: [], allowlistedButNotGranted: [] });
    }));

  it('no API role holds any privilege on a table of lms_private', () =>
    db.asRoot(async (c) => {
      expect(await tableNames(c)).toEqual(expect.arrayContaining(KNOWN_TABLES));
      expect(await privateTableGrants(c)).toEqual([]);
    }));

  it('no API role holds DELETE (outside the allowlist), TRUNCATE, TRIGGER or REFERENCES on any table', () =>
    db.asRoot(async (c) => {
      expect(await destructiveGrants(c)).toEqual([]);
    }));

  it('the checks see direct, column-level, PUBLIC and inherited grants', () =>
    db.asRoot(async (c) => {
      // Also proves the queries see today's real grants: the allowlisted UPDATE and a SELECT.
      expect((await apiRoleGrants(c)).map(describeGrant)).toEqual(expect.arrayContaining(['lms_student: SELECT ON lms_public.users', ...WRITE_ALLOWLIST]));

      await c.query('grant insert on lms_public.payments to lms_instructor');
      await c.query('grant update (role) on lms_public.users to lms_student');
      await c.query('grant select on lms_private.user_passwords to public');
      await c.query('create role lms_structure_test_group nologin; grant lms_structure_test_group to lms_anonymous');
      await c.query('grant truncate on lms_public.payments to lms_structure_test_group');
      await c.query('grant references (id) on lms_public.courses to lms_authenticator');

      const written = await writeGrants(c);
      expect(written.filter((g) => !WRITE_ALLOWLIST.includes(g))).toEqual([
        'lms_instructor: INSERT ON lms_public.payments',
        'lms_student: UPDATE (full_name, profile_metadata, role) ON lms_public.users',
      ]);
      expect(await privateTableGrants(c)).toEqual(API_ROLES.map((r) => `${r}: SELECT ON lms_private.user_passwords`).sort());
      expect(await destructiveGrants(c)).toEqual([
        'lms_anonymous: TRUNCATE ON lms_public.payments',
        'lms_authenticator: REFERENCES (id) ON lms_public.courses',
      ]);
    }));
});

describe('functions', () => {
  it('none is executable by PUBLIC', () =>
    db.asRoot(async (c) => {
      expect(await functionNames(c)).toEqual(
        expect.arrayContaining([
          'lms_public.current_user_profile()',
          'lms_private.add_job(identifier text, payload jsonb, job_key text, run_at timestamp with time zone, max_attempts integer)',
        ]),
      );
      expect(await publicExecutableFunctions(c)).toEqual([]);
    }));

  it('the check names a function granted to PUBLIC, or left with default privileges', () =>
    db.asRoot(async (c) => {
      await c.query('grant execute on function lms_private.is_admin() to public');
      // Created by root, outside lms_owner's default privileges, so its proacl stays NULL.
      await c.query("create function lms_public.defaulted() returns int language sql as 'select 1'");
      expect(
        (await rows<{ acl: string | null }>(c, "select proacl::text as acl from pg_proc where oid = 'lms_public.defaulted()'::regprocedure", []))[0]?.acl,
      ).toBeNull();
      expect(await publicExecutableFunctions(c)).toEqual(['lms_private.is_admin()', 'lms_public.defaulted()']);
    }));
});

describe('triggers', () => {
  it('are named _NNN_<what>, so that their firing order is visible', () =>
    db.asRoot(async (c) => {
      expect((await triggers(c)).map((t) => t.name)).toEqual(
        expect.arrayContaining(['_100_set_updated_at ON lms_public.users', '_900_require_password ON lms_public.users']),
      );
      expect(await misnamedTriggers(c)).toEqual([]);
    }));

  it('the check names a misnamed trigger', () =>
    db.asRoot(async (c) => {
      await c.query('alter trigger _100_set_updated_at on lms_public.courses rename to set_updated_at');
      await c.query('alter trigger _100_set_updated_at on lms_public.lessons rename to _10_set_updated_at');
      await c.query('alter trigger _100_set_updated_at on lms_public.quizzes rename to "_200_Set_Updated_At"');
      expect(await misnamedTriggers(c)).toEqual(['_10_set_updated_at ON lms_public.lessons', 'set_updated_at ON lms_public.courses']);
    }));
});

describe('policies', () => {
  it('read other tables with RLS only down one order, so they cannot recurse', () =>
    db.asRoot(async (c) => {
      expect(await policyReads(c)).toContain('select_entitled ON lms_public.quizzes reads lms_public.lessons');
      expect(await policyReadsAgainstOrder(c)).toEqual([]);
    }));

  it('the check names a policy that reads up the order, or a table outside it', () =>
    db.asRoot(async (c) => {
      await c.query('create policy reads_up on lms_public.courses for select using (id in (select l.course_id from lms_public.lessons l))');
      await c.query(
        'create policy reads_users on lms_public.lessons for select using (course_id in (select c.id from lms_public.courses c join lms_public.users u on u.id = c.instructor_id))',
      );
      expect(await policyReadsAgainstOrder(c)).toEqual([
        'reads_up ON lms_public.courses reads lms_public.lessons',
        'reads_users ON lms_public.lessons reads lms_public.users',
      ]);
    }));
});
