--! Previous: sha1:9445ebbc8733b54104f1d4837a74f1cfcfbf8ca0
--! Hash: sha1:9657cb0f0d64ef3ba2e07b9bdbb9f53c3b86db77
--! Message: Exact certificate check characters (issued numbers kept as printed), revocations kept through a reissue, dropped students' ratings no longer counted

-- Certificate check characters in exact arithmetic. certificate_check_char weighted each digit
-- with power(32, n)::numeric, which is double precision, so most numbers carry a check character
-- other than their value mod 37. Numbers already issued are printed on PDFs: they are recorded
-- here as issued, and keep verifying as printed.
create table if not exists lms_private.legacy_certificate_numbers (
  certificate_number varchar(50) primary key,
  recorded_at timestamptz not null default now()
);
comment on table lms_private.legacy_certificate_numbers is 'Certificate numbers issued before the check character was computed exactly (migration 000016); they verify as printed, check character and all.';
comment on column lms_private.legacy_certificate_numbers.certificate_number is 'The number as issued and printed, in canonical form.';
comment on column lms_private.legacy_certificate_numbers.recorded_at is 'When the migration recorded it.';

-- A reissue erased a revocation from public view: the history now keeps it.
alter table lms_private.certificate_history add column if not exists revoked_at timestamptz;
alter table lms_private.certificate_history add column if not exists revoked_reason text;
comment on column lms_private.certificate_history.revoked_at is 'When this number was revoked, if it was before the reissue; it verifies as revoked for good.';
comment on column lms_private.certificate_history.revoked_reason is 'Why it was revoked.';

--! Included functions/certificates.sql
-- Certificates: issued by the database's own rule, rendered and signed by the worker,
-- verifiable by anyone with the number, revocable and reissuable.
-- Re-runnable: included by every migration that changes it.
--
-- Eligibility: only an enrollment that becomes 'completed' queues certificates__issue (one job
-- per enrollment, by job_key); nothing else issues, except an admin's reissue.
-- Numbers: CB-XXXX-XXXX-XXXX-C, 60 random bits in Crockford base32 plus a check character
-- (mod 37, ISO 7064 style), so a mistyped number is caught before any lookup.
-- The worker: lms_private.prepare_certificate (the row, idempotent) → render and sign in Node →
-- lms_private.complete_certificate (hashes, signature; sets enrollments.certificate_issued_at).

create or replace function lms_private.certificate_check_char(p_body text) returns text
  language plpgsql immutable strict
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_remainder integer := 0;
  v_symbol text;
begin
  -- Crockford's check symbol: the body's value mod 37. Horner's rule keeps every step an exact
  -- integer below 37 * 32; power(32, n) would be double precision and round the leading weights.
  foreach v_symbol in array regexp_split_to_array(p_body, '') loop
    v_remainder := (v_remainder * 32 + strpos('0123456789ABCDEFGHJKMNPQRSTVWXYZ', v_symbol) - 1) % 37;
  end loop;
  return substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U', v_remainder + 1, 1);
end
$$;
comment on function lms_private.certificate_check_char(text) is 'The Crockford base32 check character of a certificate number''s 12 digits: their value, read as one base-32 number, mod 37, in exact integer arithmetic.';

create or replace function lms_private.normalise_certificate_number(p_number text) returns text
  language plpgsql stable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  -- Crockford decoding: case-insensitive, O→0, I and L→1, separators ignored.
  v_clean text := translate(upper(regexp_replace(coalesce(p_number, ''), '[\s-]', '', 'g')), 'OIL', '011');
  v_body text;
  v_number text;
begin
  if v_clean !~ '^CB[0-9A-HJKMNP-TV-Z]{12}[0-9A-HJKMNP-TV-Z*~$=U]$' then
    return null;
  end if;
  v_body := substr(v_clean, 3, 12);
  v_number := format('CB-%s-%s-%s-%s', substr(v_body, 1, 4), substr(v_body, 5, 4), substr(v_body, 9, 4), right(v_clean, 1));
  if lms_private.certificate_check_char(v_body) = right(v_clean, 1)
     or exists (select from lms_private.legacy_certificate_numbers l where l.certificate_number = v_number) then
    return v_number;
  end if;
  return null;
end
$$;
comment on function lms_private.normalise_certificate_number(text) is 'The canonical CB-XXXX-XXXX-XXXX-C form of a typed certificate number, or null when it is malformed or its check character is wrong (a number issued with the old, miscomputed check character is accepted as it was printed).';

create or replace function lms_private.new_certificate_number() returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_bytes bytea := gen_random_bytes(8);
  v_bits bigint := 0;
  v_body text := '';
begin
  for i in 0..7 loop
    v_bits := (v_bits << 8) | get_byte(v_bytes, i);
  end loop;
  v_bits := v_bits & ((1::bigint << 60) - 1);
  for i in 1..12 loop
    v_body := substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((v_bits >> (5 * (12 - i))) & 31)::integer + 1, 1) || v_body;
  end loop;
  v_body := reverse(v_body);
  return format('CB-%s-%s-%s-%s', substr(v_body, 1, 4), substr(v_body, 5, 4), substr(v_body, 9, 4), lms_private.certificate_check_char(v_body));
end
$$;
comment on function lms_private.new_certificate_number() is 'A fresh random certificate number (60 random bits), with its check character.';

create or replace function lms_private.tg_enrollments__queue_certificate() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if new.status = 'completed' and old.status is distinct from 'completed' then
    perform lms_private.add_job('certificates__issue', jsonb_build_object('enrollmentId', new.id),
      job_key => 'certificates__issue:' || new.id);
  end if;
  return null;
end
$$;
comment on function lms_private.tg_enrollments__queue_certificate() is 'Trigger: an enrollment that becomes completed queues certificates__issue in the same transaction, once per enrollment (job_key).';

do $$
begin
  if not exists (select from pg_type where typname = 'certificate_to_render' and typnamespace = 'lms_private'::regnamespace) then
    create type lms_private.certificate_to_render as (
      certificate_id uuid,
      certificate_number text,
      pdf_path text,
      holder_name text,
      course_title text,
      instructor_name text,
      completion_date timestamptz,
      issued_at timestamptz,
      completed boolean
    );
  end if;
end
$$;
comment on type lms_private.certificate_to_render is 'What the worker needs to render and sign a certificate; completed says whether it already was.';

create or replace function lms_private.prepare_certificate(p_enrollment_id uuid) returns lms_private.certificate_to_render
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_enrollment lms_public.enrollments;
  v_certificate lms_public.certificates;
  v_number text;
begin
  select * into v_enrollment from lms_public.enrollments e where e.id = p_enrollment_id for no key update;
  select * into v_certificate from lms_public.certificates c where c.enrollment_id = p_enrollment_id;
  if v_certificate.id is null then
    if v_enrollment.status is distinct from 'completed' or v_enrollment.completed_at is null then
      return null;
    end if;
    v_number := lms_private.new_certificate_number();
    insert into lms_public.certificates (enrollment_id, student_id, course_id, certificate_number, pdf_path, completion_date)
    values (v_enrollment.id, v_enrollment.student_id, v_enrollment.course_id, v_number,
            'certificates/' || v_number || '.pdf', v_enrollment.completed_at)
    returning * into v_certificate;
  end if;
  return (
    select row(v_certificate.id, v_certificate.certificate_number, v_certificate.pdf_path, u.full_name, c.title, i.full_name,
               v_certificate.completion_date, v_certificate.issued_at, v_certificate.signature is not null)::lms_private.certificate_to_render
    from lms_public.users u, lms_public.courses c join lms_public.users i on i.id = c.instructor_id
    where u.id = v_certificate.student_id and c.id = v_certificate.course_id
  );
end
$$;
comment on function lms_private.prepare_certificate(uuid) is 'The certificate of a completed enrollment, creating its row (number, derived pdf_path, completion date) the first time; null when the enrollment is not completed. Idempotent: a retry gets the same row.';

create or replace function lms_private.complete_certificate(
  p_certificate_id uuid,
  p_claims_json text,
  p_claims_sha256 text,
  p_signature text,
  p_key_id text,
  p_pdf_sha256 text
) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_certificate lms_public.certificates;
begin
  update lms_public.certificates set
    claims_json = p_claims_json, claims_sha256 = p_claims_sha256, signature = p_signature, key_id = p_key_id, pdf_sha256 = p_pdf_sha256
  where id = p_certificate_id
  returning * into v_certificate;
  update lms_public.enrollments set certificate_issued_at = coalesce(certificate_issued_at, v_certificate.issued_at)
  where id = v_certificate.enrollment_id;
end
$$;
comment on function lms_private.complete_certificate(uuid, text, text, text, text, text) is 'Records a rendered certificate: its canonical claims (RFC 8785), their SHA-256, the Ed25519 signature and key id, and the PDF''s SHA-256.';

do $$
begin
  if not exists (select from pg_type where typname = 'certificate_verification' and typnamespace = 'lms_public'::regnamespace) then
    create type lms_public.certificate_verification as (
      certificate_number text,
      status text,
      holder_name text,
      course_title text,
      completion_date timestamptz,
      issued_at timestamptz,
      revoked_at timestamptz,
      revoked_reason text,
      replaced_by text,
      claims_json text,
      claims_sha256 text,
      signature text,
      key_id text,
      pdf_sha256 text,
      pdf_url_path text
    );
  end if;
end
$$;
comment on type lms_public.certificate_verification is 'What anyone holding a certificate number may know about it: its public claims, its status, and the fingerprints that prove it.';
comment on column lms_public.certificate_verification.certificate_number is 'The number, in canonical form.';
comment on column lms_public.certificate_verification.status is 'valid, revoked (see revokedAt and revokedReason), replaced (by a reissue; see replacedBy) or pending (being issued). A number revoked and then reissued stays revoked, with replacedBy set.';
comment on column lms_public.certificate_verification.holder_name is 'Who earned it.';
comment on column lms_public.certificate_verification.course_title is 'The course completed.';
comment on column lms_public.certificate_verification.completion_date is 'When the course was completed.';
comment on column lms_public.certificate_verification.issued_at is 'When the certificate was issued.';
comment on column lms_public.certificate_verification.revoked_at is 'When it was revoked, if it was.';
comment on column lms_public.certificate_verification.revoked_reason is 'Why it was revoked.';
comment on column lms_public.certificate_verification.replaced_by is 'For a reissued number: the number that replaced it.';
comment on column lms_public.certificate_verification.claims_json is 'The signed claims, as canonical JSON (RFC 8785).';
comment on column lms_public.certificate_verification.claims_sha256 is 'SHA-256 of the claims (hex).';
comment on column lms_public.certificate_verification.signature is 'Ed25519 signature of the canonical claims (base64url).';
comment on column lms_public.certificate_verification.key_id is 'Which published key verifies the signature.';
comment on column lms_public.certificate_verification.pdf_sha256 is 'SHA-256 of the PDF (hex).';
comment on column lms_public.certificate_verification.pdf_url_path is 'Where the PDF is served, relative to the site.';

create or replace function lms_public.verify_certificate(number text) returns lms_public.certificate_verification
  language plpgsql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_number text := lms_private.normalise_certificate_number(number);
  v_result lms_public.certificate_verification;
begin
  if v_number is null then
    return null;
  end if;
  select c.certificate_number, case when c.is_revoked then 'revoked' when c.signature is null then 'pending' else 'valid' end,
         u.full_name, co.title, c.completion_date, c.issued_at, c.revoked_at, c.revoked_reason, null,
         c.claims_json, c.claims_sha256, c.signature, c.key_id, c.pdf_sha256, '/certificates/' || c.certificate_number || '.pdf'
    into v_result
  from lms_public.certificates c join lms_public.users u on u.id = c.student_id join lms_public.courses co on co.id = c.course_id
  where c.certificate_number = v_number;
  if v_result.certificate_number is not null then
    return v_result;
  end if;
  select h.certificate_number, case when h.revoked_at is not null then 'revoked' else 'replaced' end,
         h.holder_name, h.course_title, h.completion_date, h.issued_at, h.revoked_at, h.revoked_reason,
         c.certificate_number, h.claims_json, h.claims_sha256, h.signature, h.key_id, h.pdf_sha256, null
    into v_result
  from lms_private.certificate_history h join lms_public.certificates c on c.id = h.certificate_id
  where h.certificate_number = v_number;
  return case when v_result.certificate_number is null then null else v_result end;
end
$$;
comment on function lms_public.verify_certificate(text) is 'Checks a certificate number, for anyone: its public claims and status (valid, revoked with date and reason, replaced by a newer number, or pending; a revoked number later reissued shows revoked and replaced), and its fingerprints; null for an unknown or mistyped number (the check character catches typos).';

create or replace function lms_public.revoke_certificate(certificate_id uuid, reason text) returns lms_public.certificates
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_admin_id uuid := lms_private.require_admin();
  v_certificate lms_public.certificates;
begin
  if nullif(btrim(coalesce(reason, '')), '') is null then
    raise exception using errcode = 'INVAL', message = 'give a reason for the revocation';
  end if;
  update lms_public.certificates c set is_revoked = true, revoked_at = coalesce(c.revoked_at, now()), revoked_reason = btrim(reason)
  where c.id = revoke_certificate.certificate_id
  returning * into v_certificate;
  if v_certificate.id is null then
    raise exception using errcode = 'NTFND', message = 'no such certificate';
  end if;
  perform lms_private.log_security_event('certificate_revoked', v_certificate.student_id,
    jsonb_build_object('certificate_number', v_certificate.certificate_number, 'reason', btrim(reason)), v_admin_id);
  return v_certificate;
end
$$;
comment on function lms_public.revoke_certificate(uuid, text) is E'@resultFieldName certificate\nAdmins only: revokes a certificate with a reason. Nothing is deleted; verification shows it revoked at once.';

create or replace function lms_public.reissue_certificate(certificate_id uuid) returns lms_public.certificates
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_admin_id uuid := lms_private.require_admin();
  v_old lms_public.certificates;
  v_certificate lms_public.certificates;
  v_number text := lms_private.new_certificate_number();
begin
  select * into v_old from lms_public.certificates c where c.id = reissue_certificate.certificate_id for update;
  if v_old.id is null then
    raise exception using errcode = 'NTFND', message = 'no such certificate';
  end if;
  insert into lms_private.certificate_history (certificate_id, certificate_number, holder_name, course_title, completion_date, issued_at,
                                               claims_json, claims_sha256, signature, key_id, pdf_sha256, pdf_path,
                                               revoked_at, revoked_reason)
  -- What the old certificate certified: its signed claims, not today's name and title.
  select v_old.id, v_old.certificate_number,
         coalesce(v_old.claims_json::jsonb ->> 'holder', u.full_name), coalesce(v_old.claims_json::jsonb ->> 'course', co.title),
         v_old.completion_date, v_old.issued_at,
         v_old.claims_json, v_old.claims_sha256, v_old.signature, v_old.key_id, v_old.pdf_sha256, v_old.pdf_path,
         -- A revoked number stays revoked: the reissue makes a new certificate, it does not clear the old one.
         case when v_old.is_revoked then v_old.revoked_at end, case when v_old.is_revoked then v_old.revoked_reason end
  from lms_public.users u, lms_public.courses co where u.id = v_old.student_id and co.id = v_old.course_id;
  update lms_public.certificates c set
    certificate_number = v_number, pdf_path = 'certificates/' || v_number || '.pdf', issued_at = now(),
    is_revoked = false, revoked_at = null, revoked_reason = null,
    claims_json = null, claims_sha256 = null, signature = null, key_id = null, pdf_sha256 = null
  where c.id = v_old.id
  returning * into v_certificate;
  perform lms_private.add_job('certificates__issue', jsonb_build_object('enrollmentId', v_certificate.enrollment_id),
    job_key => 'certificates__issue:' || v_certificate.enrollment_id);
  perform lms_private.log_security_event('certificate_reissued', v_certificate.student_id,
    jsonb_build_object('old_number', v_old.certificate_number, 'new_number', v_number), v_admin_id);
  return v_certificate;
end
$$;
comment on function lms_public.reissue_certificate(uuid) is E'@resultFieldName certificate\nAdmins only: reissues a certificate (after a name change, say) under a new number, with new claims and PDF; the old number stays in the history and verifies as replaced by the new one, and as revoked (date, reason) if it was.';

create or replace function lms_private.my_certificate_visibility(p_student_id uuid, p_course_id uuid) returns boolean
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select p_student_id = lms_private.current_user_id() or lms_private.is_admin()
      or exists (select from lms_public.courses c where c.id = p_course_id and c.instructor_id = lms_private.current_user_id())
$$;
comment on function lms_private.my_certificate_visibility(uuid, uuid) is 'Whether the signed-in user may see a certificate: its holder, the course''s instructor, or an admin.';
--! EndIncluded functions/certificates.sql
--! Included policies/certificates.sql
-- Certificates.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.certificates enable row level security;
alter table lms_private.certificate_history enable row level security;
alter table lms_private.legacy_certificate_numbers enable row level security;

revoke all on lms_public.certificates, lms_private.certificate_history, lms_private.legacy_certificate_numbers from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Holders see theirs, instructors their courses', admins all. Anyone verifies a number through
-- verifyCertificate, which shows only public claims. Rows change only through functions.
grant select on lms_public.certificates to lms_student, lms_instructor, lms_admin;
drop policy if exists select_holder_teacher_or_admin on lms_public.certificates;
create policy select_holder_teacher_or_admin on lms_public.certificates for select
  using (lms_private.my_certificate_visibility(student_id, course_id));
--! EndIncluded policies/certificates.sql

insert into lms_private.legacy_certificate_numbers (certificate_number)
select n.certificate_number
from (select certificate_number from lms_public.certificates union select certificate_number from lms_private.certificate_history) n
where lms_private.certificate_check_char(replace(substr(n.certificate_number, 4, 14), '-', '')) <> right(n.certificate_number, 1)
on conflict do nothing;

-- Revocations that earlier reissues erased, recovered from the audit log.
update lms_private.certificate_history h
set revoked_at = e.occurred_at, revoked_reason = e.details ->> 'reason'
from (select distinct on (s.details ->> 'certificate_number', r.id) r.id as history_id, s.occurred_at, s.details
      from lms_private.security_events s join lms_private.certificate_history r
        on r.certificate_number = s.details ->> 'certificate_number' and s.occurred_at <= r.replaced_at
      where s.event_type = 'certificate_revoked'
      order by s.details ->> 'certificate_number', r.id, s.occurred_at desc) e
where e.history_id = h.id and h.revoked_at is null;

-- A dropped (or expired) student's rating no longer counts in the course's average and count.
--! Included functions/catalog.sql
-- Catalog: courses, lessons, the public syllabus, publishing, reordering, reviews.
-- Re-runnable: included by every migration that changes it.
--
-- Which lessons count toward completion (lms_private.lesson_counts):
--   a lesson counts when it is not archived, has no live children (a parent is a section),
--   and is not a quiz lesson whose quiz is a practice quiz.
-- Publishing needs at least one counting lesson, and every counting quiz lesson needs a
-- published graded quiz.

--------------------------------------------------------------------------------
-- Who may see and change what: small definer helpers for the policies (no recursion).

create or replace function lms_private.my_taught_course_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(c.id), '{}') from lms_public.courses c where c.instructor_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_taught_course_ids() is 'Ids of the courses the signed-in user teaches.';

create or replace function lms_private.my_entitled_course_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(e.course_id), '{}') from lms_public.enrollments e
  where e.student_id = lms_private.current_user_id() and e.status in ('active', 'completed')
$$;
comment on function lms_private.my_entitled_course_ids() is 'Ids of the courses the signed-in user is enrolled in (active or completed): their lessons are theirs to read, published or not.';

create or replace function lms_private.can_manage_course(p_course_id uuid) returns boolean
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.is_admin()
      or exists (select from lms_public.courses c where c.id = p_course_id and c.instructor_id = lms_private.current_user_id())
$$;
comment on function lms_private.can_manage_course(uuid) is 'Whether the signed-in user is the course''s instructor or an admin.';

create or replace function lms_private.require_course_manager(p_course_id uuid) returns void
  language plpgsql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform lms_private.require_user();
  if not exists (select from lms_public.courses c where c.id = p_course_id) then
    raise exception using errcode = 'NTFND', message = 'no such course';
  end if;
  if not lms_private.can_manage_course(p_course_id) then
    raise exception using errcode = 'FRBDN', message = 'only the course''s instructor or an admin may do this';
  end if;
end
$$;
comment on function lms_private.require_course_manager(uuid) is 'Raises NOAUT, NTFND or FRBDN unless the signed-in user manages the course.';

--------------------------------------------------------------------------------
-- Slugs.

create or replace function lms_private.slugify(p_text text) returns text
  language sql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(nullif(left(btrim(regexp_replace(lower(coalesce(p_text, '')), '[^a-z0-9]+', '-', 'g'), '-'), 200), ''), 'untitled')
$$;
comment on function lms_private.slugify(text) is 'Lowercase-kebab form of a title: runs of anything but a-z and 0-9 become one hyphen.';

create or replace function lms_private.random_slug_suffix() returns text
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  -- 32 symbols, so each byte modulo 32 is uniform: 30 random bits, lowercase, no i/l/o/u to misread.
  select string_agg(substr('0123456789abcdefghjkmnpqrstvwxyz', get_byte(r.b, i) % 32 + 1, 1), '' order by i)
  from (select gen_random_bytes(6) as b) r, generate_series(0, 5) as i
$$;
comment on function lms_private.random_slug_suffix() is 'Six random lowercase letters and digits, the suffix of a generated slug whose base is taken.';
revoke all on function lms_private.random_slug_suffix() from public;

create or replace function lms_private.tg_courses__defaults() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_base text;
  v_candidate text;
begin
  if tg_op = 'INSERT' and new.instructor_id is null then
    new.instructor_id := lms_private.current_user_id();
  end if;
  if tg_op = 'UPDATE' and new.slug is not distinct from old.slug then
    return new;
  end if;
  if nullif(btrim(coalesce(new.slug, '')), '') is not null then
    if new.slug !~ '^[a-z0-9]+(-[a-z0-9]+)*$' then
      raise exception using errcode = 'INVAL', message = 'the slug must be lowercase-kebab: a-z, 0-9 and single hyphens';
    end if;
    return new;
  end if;
  v_base := lms_private.slugify(new.title);
  -- Serialise slug generation: a base and another title's suffixed form can meet.
  perform pg_advisory_xact_lock(hashtext('lms_public.courses.slug'));
  v_candidate := v_base;
  -- A random suffix, not a counter: "-2" would tell the caller that a course it may not see took
  -- the base, and "-3" that two did; a random one tells nothing about who holds what.
  while exists (select from lms_public.courses c where c.slug = v_candidate and c.id <> new.id) loop
    v_candidate := rtrim(v_base, '-') || '-' || lms_private.random_slug_suffix();
  end loop;
  new.slug := v_candidate;
  return new;
end
$$;
comment on function lms_private.tg_courses__defaults() is 'Trigger: a new course''s instructor defaults to the signed-in user; generates a unique slug from the title when none is given (the title''s own slug if no course holds it, else with a random six-character suffix), and validates a given one as lowercase-kebab (INVAL); a given slug that is taken is a unique violation (23505) whoever holds it.';

create or replace function lms_private.tg_lessons__defaults() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if nullif(btrim(coalesce(new.slug, '')), '') is null then
    new.slug := lms_private.slugify(new.title);
  elsif new.slug !~ '^[a-z0-9]+(-[a-z0-9]+)*$' then
    raise exception using errcode = 'INVAL', message = 'the slug must be lowercase-kebab: a-z, 0-9 and single hyphens';
  end if;
  if new.order_index is null then
    perform pg_advisory_xact_lock(hashtext('lms_public.lessons.order:' || new.course_id));
    select coalesce(max(l.order_index) + 1, 0) into new.order_index from lms_public.lessons l where l.course_id = new.course_id;
  end if;
  return new;
end
$$;
comment on function lms_private.tg_lessons__defaults() is 'Trigger: a lesson''s slug defaults to its title''s, and its order_index to the end of the course.';

--------------------------------------------------------------------------------
-- Lesson structure.

create or replace function lms_private.tg_lessons__check_parent() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'UPDATE' and new.course_id <> old.course_id then
    raise exception using errcode = 'INVAL', message = 'a lesson cannot move to another course';
  end if;
  if new.parent_lesson_id is null then
    return new;
  end if;
  if not exists (select from lms_public.lessons p where p.id = new.parent_lesson_id and p.course_id = new.course_id) then
    raise exception using errcode = 'INVAL', message = 'the parent lesson must belong to the same course';
  end if;
  if exists (
    with recursive ancestors(id) as (
      select new.parent_lesson_id
      union
      select p.parent_lesson_id from lms_public.lessons p join ancestors a on p.id = a.id where p.parent_lesson_id is not null
    )
    select from ancestors where id = new.id
  ) then
    raise exception using errcode = 'INVAL', message = 'a lesson cannot be its own ancestor';
  end if;
  return new;
end
$$;
comment on function lms_private.tg_lessons__check_parent() is 'Trigger: a parent lesson belongs to the same course, the parent chain has no cycle, and lessons do not change course (INVAL).';

create or replace function lms_private.lesson_counts(p_lesson lms_public.lessons) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select p_lesson.archived_at is null
     and not exists (select from lms_public.lessons c where c.parent_lesson_id = p_lesson.id and c.archived_at is null)
     and not exists (select from lms_public.quizzes q where q.lesson_id = p_lesson.id and q.quiz_type = 'practice')
$$;
comment on function lms_private.lesson_counts(lms_public.lessons) is 'Whether a lesson counts toward completion: not archived, not a section with live children, not a practice-quiz lesson.';

create or replace function lms_private.counting_lesson_ids(p_course_id uuid) returns setof uuid
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select l.id from lms_public.lessons l where l.course_id = p_course_id and lms_private.lesson_counts(l)
$$;
comment on function lms_private.counting_lesson_ids(uuid) is 'The lessons of a course that count toward completion; O(lessons of the course).';

create or replace function lms_public.lessons_counts_toward_completion(l lms_public.lessons) returns boolean
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.lesson_counts(l)
$$;
comment on function lms_public.lessons_counts_toward_completion(lms_public.lessons) is 'Whether this lesson counts toward course completion (not archived, not a section, not a practice quiz).';

--------------------------------------------------------------------------------
-- The public syllabus.

do $$
begin
  if not exists (select from pg_type where typname = 'syllabus_entry' and typnamespace = 'lms_public'::regnamespace) then
    create type lms_public.syllabus_entry as (
      id uuid,
      title varchar(255),
      slug varchar(255),
      lesson_type varchar(50),
      order_index integer,
      parent_lesson_id uuid,
      duration_minutes integer,
      is_preview boolean,
      counts_toward_completion boolean
    );
  end if;
end
$$;
comment on type lms_public.syllabus_entry is 'A lesson as the public sees it in a course''s syllabus: no content, no video URL.';
comment on column lms_public.syllabus_entry.id is 'The lesson''s id.';
comment on column lms_public.syllabus_entry.title is 'The lesson''s title.';
comment on column lms_public.syllabus_entry.slug is 'The lesson''s slug.';
comment on column lms_public.syllabus_entry.lesson_type is 'video, text, quiz or assignment.';
comment on column lms_public.syllabus_entry.order_index is 'Position in the course.';
comment on column lms_public.syllabus_entry.parent_lesson_id is 'The section it sits in.';
comment on column lms_public.syllabus_entry.duration_minutes is 'How long the lesson takes.';
comment on column lms_public.syllabus_entry.is_preview is 'Whether anyone may read its body.';
comment on column lms_public.syllabus_entry.counts_toward_completion is 'Whether it counts toward completion.';

create or replace function lms_public.courses_syllabus(c lms_public.courses) returns setof lms_public.syllabus_entry
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select l.id, l.title, l.slug, l.lesson_type, l.order_index, l.parent_lesson_id, l.duration_minutes, l.is_preview,
         lms_private.lesson_counts(l)
  from lms_public.courses course
  join lms_public.lessons l on l.course_id = course.id
  where course.id = c.id
    and l.archived_at is null
    and (course.is_published or lms_private.can_manage_course(course.id) or course.id = any(lms_private.my_entitled_course_ids()))
  order by l.order_index
$$;
comment on function lms_public.courses_syllabus(lms_public.courses) is E'@behavior -connection +list\n@listSuffix omit\nThe course''s syllabus, in order: titles, types, durations, preview flags and sections, for anyone who can see the course. Lesson bodies are on lessons, for those entitled to them.';

create or replace function lms_public.courses_instructor_name(c lms_public.courses) returns text
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select u.full_name::text from lms_public.courses course join lms_public.users u on u.id = course.instructor_id
  where course.id = c.id
    and (course.is_published or lms_private.can_manage_course(course.id) or course.id = any(lms_private.my_entitled_course_ids()))
$$;
comment on function lms_public.courses_instructor_name(lms_public.courses) is 'The instructor''s name, public with the course; nothing else about them is.';

--------------------------------------------------------------------------------
-- Publishing, reordering, removing.

create or replace function lms_public.publish_course(course_id uuid) returns lms_public.courses
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course lms_public.courses;
  v_lesson record;
begin
  perform lms_private.require_course_manager(course_id);
  select * into v_course from lms_public.courses c where c.id = publish_course.course_id for no key update;
  if not exists (select from lms_private.counting_lesson_ids(v_course.id)) then
    raise exception using errcode = 'INVAL', message = 'a course needs at least one lesson that counts toward completion before it is published';
  end if;
  select l.title into v_lesson
  from lms_public.lessons l
  where l.id in (select lms_private.counting_lesson_ids(v_course.id)) and l.lesson_type = 'quiz'
    and not exists (select from lms_public.quizzes q where q.lesson_id = l.id and q.quiz_type = 'graded' and q.is_published)
  limit 1;
  if found then
    raise exception using errcode = 'INVAL', message = format('the quiz lesson "%s" needs a published graded quiz', v_lesson.title);
  end if;
  update lms_public.courses c set is_published = true where c.id = v_course.id returning * into v_course;
  return v_course;
end
$$;
comment on function lms_public.publish_course(uuid) is E'@resultFieldName course\nPublishes a course (its instructor or an admin). It needs a counting lesson, and every counting quiz lesson needs a published graded quiz (INVAL).';

create or replace function lms_public.unpublish_course(course_id uuid) returns lms_public.courses
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_course lms_public.courses;
begin
  perform lms_private.require_course_manager(course_id);
  update lms_public.courses c set is_published = false where c.id = unpublish_course.course_id returning * into v_course;
  return v_course;
end
$$;
comment on function lms_public.unpublish_course(uuid) is E'@resultFieldName course\nTakes a course out of the catalog. Enrolled students keep their access.';

create or replace function lms_public.reorder_lessons(course_id uuid, lesson_ids uuid[]) returns setof lms_public.lessons
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_live uuid[];
begin
  perform lms_private.require_course_manager(course_id);
  perform 1 from lms_public.courses c where c.id = reorder_lessons.course_id for no key update;
  select coalesce(array_agg(l.id order by l.id), '{}') into v_live
  from lms_public.lessons l where l.course_id = reorder_lessons.course_id and l.archived_at is null;
  if lesson_ids is null or cardinality(lesson_ids) <> cardinality(v_live)
     or (select array_agg(x order by x) from (select distinct unnest(lesson_ids) as x) ids) is distinct from v_live then
    raise exception using errcode = 'INVAL', message = 'give every lesson of the course that is not archived, each once, in the new order';
  end if;
  -- The unique key is deferrable: a permutation passes through duplicate indexes mid-statement.
  set constraints lms_public.lessons_course_id_order_index_key deferred;
  update lms_public.lessons l set order_index = o.position - 1
  from unnest(lesson_ids) with ordinality as o(id, position)
  where l.id = o.id and l.order_index <> o.position - 1;
  -- Archived lessons keep their relative order, after the live ones.
  update lms_public.lessons l set order_index = cardinality(lesson_ids) + a.rank - 1
  from (select l2.id, row_number() over (order by l2.order_index) as rank
        from lms_public.lessons l2 where l2.course_id = reorder_lessons.course_id and l2.archived_at is not null) a
  where l.id = a.id;
  set constraints lms_public.lessons_course_id_order_index_key immediate;
  return query select * from lms_public.lessons l where l.course_id = reorder_lessons.course_id order by l.order_index;
end
$$;
comment on function lms_public.reorder_lessons(uuid, uuid[]) is E'@resultFieldName lessons\nPuts a course''s lessons in the given order, atomically: the list must hold every lesson that is not archived, once (INVAL).';

create or replace function lms_public.remove_lesson(lesson_id uuid) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lesson lms_public.lessons;
begin
  select * into v_lesson from lms_public.lessons l where l.id = remove_lesson.lesson_id for update;
  if v_lesson.id is null then
    raise exception using errcode = 'NTFND', message = 'no such lesson';
  end if;
  perform lms_private.require_course_manager(v_lesson.course_id);
  if exists (select from lms_public.lessons c where c.parent_lesson_id = v_lesson.id and c.archived_at is null) then
    raise exception using errcode = 'INVAL', message = 'the section still has lessons; remove or move them first';
  end if;
  delete from lms_public.lessons l where l.id = v_lesson.id;
  return case when exists (select from lms_public.lessons l where l.id = v_lesson.id) then 'archived' else 'deleted' end;
end
$$;
comment on function lms_public.remove_lesson(uuid) is E'@resultFieldName outcome\nRemoves a lesson: deleted when nobody has worked on it, otherwise archived (it stops counting and leaves the syllabus, and progress and grades stay). Returns deleted or archived.';

create or replace function lms_private.tg_lessons__archive_instead_of_delete() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- Archived children still point at their section, so a section with any child is archived too.
  if exists (select from lms_public.lesson_progress p where p.lesson_id = old.id)
     or exists (select from lms_public.quiz_attempts a join lms_public.quizzes q on q.id = a.quiz_id where q.lesson_id = old.id)
     or exists (select from lms_public.lessons c where c.parent_lesson_id = old.id) then
    update lms_public.lessons set archived_at = coalesce(archived_at, now()) where id = old.id;
    return null;
  end if;
  return old;
end
$$;
comment on function lms_private.tg_lessons__archive_instead_of_delete() is 'Trigger: a lesson with progress, quiz attempts or (archived) children is archived instead of deleted, so that the cascades cannot destroy grades.';

--------------------------------------------------------------------------------
-- Reviews: a course's public rating, kept by a trigger.

create or replace function lms_private.refresh_course_rating(p_course_id uuid) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- Lock first, then read in a new statement: a concurrent review committed while we waited is counted.
  -- NO KEY UPDATE: it does not conflict with the KEY SHARE that a new lesson's foreign key takes.
  perform 1 from lms_public.courses c where c.id = p_course_id for no key update;
  update lms_public.courses c
  set average_rating = r.average, review_count = r.reviews
  from (select round(avg(e.rating), 2) as average, count(e.rating)::integer as reviews
        -- A dropped or expired student's review no longer speaks for the course.
        from lms_public.enrollments e where e.course_id = p_course_id and e.status in ('active', 'completed')) r
  where c.id = p_course_id
    and (c.average_rating is distinct from r.average or c.review_count is distinct from r.reviews);
end
$$;
comment on function lms_private.refresh_course_rating(uuid) is 'Recomputes a course''s average rating and review count from its active and completed enrollments.';

create or replace function lms_private.tg_enrollments__refresh_course_rating() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'DELETE' then
    perform lms_private.refresh_course_rating(old.course_id);
  elsif tg_op = 'INSERT' or new.rating is distinct from old.rating
        or (new.status in ('active', 'completed')) is distinct from (old.status in ('active', 'completed')) then
    perform lms_private.refresh_course_rating(new.course_id);
  end if;
  return null;
end
$$;
comment on function lms_private.tg_enrollments__refresh_course_rating() is 'Trigger: keeps courses.average_rating and review_count true when a rating changes, or an enrollment is dropped, expires or comes back.';

create or replace function lms_private.tg_enrollments__check_review() returns trigger
  language plpgsql
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if (new.rating is distinct from old.rating or new.review is distinct from old.review)
     and old.status not in ('active', 'completed') then
    raise exception using errcode = 'FRBDN', message = 'only students with an active or completed enrollment may review the course';
  end if;
  return new;
end
$$;
comment on function lms_private.tg_enrollments__check_review() is 'Trigger: ratings and reviews come from active or completed enrollments only.';

create or replace function lms_private.my_enrollment_ids() returns uuid[]
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(e.id), '{}') from lms_public.enrollments e where e.student_id = lms_private.current_user_id()
$$;
comment on function lms_private.my_enrollment_ids() is 'Ids of the signed-in user''s own enrollments, whatever their status.';
--! EndIncluded functions/catalog.sql
drop trigger if exists _600_refresh_course_rating on lms_public.enrollments;
create trigger _600_refresh_course_rating after update of rating, status or delete on lms_public.enrollments
  for each row execute function lms_private.tg_enrollments__refresh_course_rating();
select lms_private.refresh_course_rating(c.id) from lms_public.courses c;
