-- Identity: row level security, grants and policies of users, passwords, sessions, email tokens,
-- MFA, lockouts, rate limits and the audit log.
-- Re-runnable: included by every migration that changes it.

alter table lms_public.users enable row level security;
alter table lms_private.user_passwords enable row level security;
alter table lms_private.refresh_tokens enable row level security;
alter table lms_private.email_tokens enable row level security;
alter table lms_private.user_mfa enable row level security;
alter table lms_private.mfa_recovery_codes enable row level security;
alter table lms_private.user_lockouts enable row level security;
alter table lms_private.security_events enable row level security;
alter table lms_private.rate_limits enable row level security;
alter table lms_private.rate_limit_hits enable row level security;

revoke all on lms_public.users, lms_private.user_passwords, lms_private.refresh_tokens, lms_private.email_tokens,
  lms_private.user_mfa, lms_private.mfa_recovery_codes, lms_private.user_lockouts, lms_private.security_events,
  lms_private.rate_limits, lms_private.rate_limit_hits, lms_public.security_events
  from lms_anonymous, lms_student, lms_instructor, lms_admin;

-- Users read their own row; admins read every row. Role and flags change only through
-- functions, so the only direct write is to one's own name and profile.
grant select on lms_public.users to lms_anonymous, lms_student, lms_instructor, lms_admin;
grant update (full_name, profile_metadata) on lms_public.users to lms_student, lms_instructor, lms_admin;

drop policy if exists select_self_or_admin on lms_public.users;
create policy select_self_or_admin on lms_public.users for select
  using (id = lms_private.current_user_id() or lms_private.is_admin());

drop policy if exists update_self on lms_public.users;
create policy update_self on lms_public.users for update
  using (id = lms_private.current_user_id())
  with check (id = lms_private.current_user_id());

-- The audit log: a view that filters to admins, granted to admins only.
grant select on lms_public.security_events to lms_admin;

-- Every lms_private table here: no visitor grant and no policy; only definer functions
-- owned by lms_owner touch them.
