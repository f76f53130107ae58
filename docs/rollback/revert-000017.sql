-- Reverts migration 000017 ("db/ as the whole current truth …") on a database that has it: as a
-- NEW migration, because graphile-migrate is forward-only and 000017 is released (see
-- docs/operations.md, "Rolling back"). Copy it into migrations/current.sql, then
-- `npm run db:gm -- commit --message "revert 000017: …"`, and revert the db/ files in the same
-- change. test/db/schema/rollback.test.ts proves that it gives back 000016's catalog exactly.
--
-- 000017 added four helpers and made two settings required instead of defaulted; everything
-- else it wrote was already so. Undo: the two functions as 000016 had them (CREATE OR REPLACE
-- keeps their grants), their comments, then the helpers, which nothing calls any more.

CREATE OR REPLACE FUNCTION lms_private.bcrypt_cost()
 RETURNS integer
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select greatest(4, least(15, coalesce(nullif(current_setting('lms.bcrypt_cost', true), '')::integer, 12)))
$function$
;
comment on function lms_private.bcrypt_cost() is 'bcrypt cost for new hashes: lms.bcrypt_cost from the API (LMS_BCRYPT_COST, at least 10 in production), 12 otherwise.';

CREATE OR REPLACE FUNCTION lms_private.quiz_grace()
 RETURNS interval
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select make_interval(secs => coalesce(nullif(current_setting('lms.quiz_grace_seconds', true), '')::integer, 30))
$function$
;
comment on function lms_private.quiz_grace() is 'How long after its deadline a submission is still accepted (LMS_QUIZ_GRACE_SECONDS, 30 by default).';


drop function lms_private.required_setting(text);
drop function lms_private.grant_domain_functions(text[], text[], text[], text[], text[]);
drop function lms_private.begin_domain_functions();
drop function lms_private.define_composite_type(text, text);
