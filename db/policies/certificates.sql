-- Certificates.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.certificates enable row level security;

revoke all on lms_public.certificates from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- No grant and no policy yet: RLS denies every visitor until the Certificates rules.
