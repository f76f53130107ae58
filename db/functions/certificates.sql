-- Certificates: the functions that issue certificates by the database's own rule (rendered and
-- signed by the worker), verify them for anyone with the number, revoke and reissue them, and
-- their execute grants. Re-runnable: included by every migration that changes it.
--
-- Eligibility: only an enrollment that becomes 'completed' queues certificates__issue (one job
-- per enrollment, by job_key); nothing else issues, except an admin's reissue.
-- Numbers: CB-XXXX-XXXX-XXXX-C, 60 random bits in Crockford base32 plus a check character
-- (mod 37, ISO 7064 style), so a mistyped number is caught before any lookup.
-- The worker: lms_private.prepare_certificate (the row, idempotent) → render and sign in Node →
-- lms_private.complete_certificate (hashes, signature; sets enrollments.certificate_issued_at).

select lms_private.begin_domain_functions();

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

-- Replaced when its attributes change, with the functions below that use it (see common.sql).
select lms_private.define_composite_type('lms_private.certificate_to_render', $$
  certificate_id uuid,
  certificate_number text,
  pdf_path text,
  holder_name text,
  course_title text,
  instructor_name text,
  completion_date timestamptz,
  issued_at timestamptz,
  completed boolean
$$);
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

-- Replaced when its attributes change, with the functions below that use it (see common.sql).
select lms_private.define_composite_type('lms_public.certificate_verification', $$
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
$$);
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

--------------------------------------------------------------------------------
-- Execute grants. Everything not named here runs only inside definer functions, triggers or the worker.

select lms_private.grant_domain_functions(
  everyone => array['verify_certificate', 'normalise_certificate_number', 'certificate_check_char',
    'revoke_certificate', 'reissue_certificate'],
  -- Granted since migration 000011 and kept as it was; nothing calls them as the authenticator
  -- (it has no usage on lms_public, and the certificate pages run as lms_anonymous).
  authenticator => array['verify_certificate', 'normalise_certificate_number', 'certificate_check_char']
);
