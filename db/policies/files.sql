-- Files: row level security, grants and policies of uploaded files.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.uploaded_files enable row level security;

revoke all on lms_public.uploaded_files from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- No grant and no policy yet: RLS denies every visitor until the uploads rules.
