/*
 * A fingerprint of the catalog: one line per rule-bearing object of our schemas (functions and
 * their bodies, triggers, policies, relations and columns with their grants, types, default
 * privileges, comments). Two databases with the same lines have the same rules.
 */

/** Effective privileges, whatever order they were granted in; null (the default) spelled out. */
const acl = (column: string, kind: string, owner: string) => `(
  select string_agg(e, ',' order by e) from (
    select format('%s:%s%s', case a.grantee when 0 then 'PUBLIC' else a.grantee::regrole::text end, a.privilege_type,
                  case when a.is_grantable then '*' else '' end) as e
    from aclexplode(coalesce(${column}, acldefault(${kind}, ${owner}))) a) x)`;

export const OURS = `('lms_public'::regnamespace, 'lms_private'::regnamespace)`;

/** One line per rule-bearing object: functions, triggers, policies, grants, types, comments. */
export const FINGERPRINT = `
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
