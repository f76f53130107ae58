-- Certificates: row level security, grants and policies of certificates and their history.
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
