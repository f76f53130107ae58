-- Workers: row level security of the worker's bookkeeping tables (heartbeats, sent emails).
-- Re-runnable: included by every migration that changes it.

alter table lms_private.worker_heartbeats enable row level security;
alter table lms_private.sent_emails enable row level security;

revoke all on lms_private.worker_heartbeats, lms_private.sent_emails
  from lms_anonymous, lms_student, lms_instructor, lms_admin, lms_authenticator;

-- No grant and no policy: RLS denies every visitor; only the worker, as the owner, reads and writes them.
