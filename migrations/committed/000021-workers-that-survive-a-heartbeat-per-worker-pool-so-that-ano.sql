--! Previous: sha1:bcf6863fe86319cf6c71a23c96b624ecb173d588
--! Hash: sha1:c58e1af1a7ba3a0e055a67b9ecdc2a200c449aef
--! Message: Workers that survive: a heartbeat per worker pool so that another worker releases a dead one's jobs, and a record of every email a job sent

-- Workers that survive: a heartbeat per worker pool, so that another worker releases a dead
-- one's jobs well before graphile-worker's four-hour lock expiry; and a record of every email a
-- job sent, so that a job run again sends nothing twice.

create table lms_private.worker_heartbeats (
  pool_id text primary key,
  hostname text not null,
  pid integer not null,
  started_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now()
);
comment on table lms_private.worker_heartbeats is
  'One row per running graphile-worker pool, refreshed every LMS_WORKER_HEARTBEAT_SECONDS; a row older than LMS_WORKER_STALE_SECONDS marks a dead worker whose jobs another worker releases.';
comment on column lms_private.worker_heartbeats.pool_id is 'The worker pool''s id, as graphile-worker writes it in a locked job''s locked_by.';
comment on column lms_private.worker_heartbeats.hostname is 'The machine the pool runs on, for the operator.';
comment on column lms_private.worker_heartbeats.pid is 'The worker process''s id on that machine, for the operator.';
comment on column lms_private.worker_heartbeats.started_at is 'When the pool first recorded itself.';
comment on column lms_private.worker_heartbeats.last_seen_at is 'The pool''s latest heartbeat, by the database''s clock.';

create table lms_private.sent_emails (
  job_id bigint primary key,
  user_id uuid not null references lms_public.users (id) on delete cascade,
  purpose text not null,
  recipient text not null,
  sent_at timestamptz not null default now()
);
create index ix_sent_emails_user_id on lms_private.sent_emails (user_id);
comment on table lms_private.sent_emails is
  'Every email a worker job sent, by job id: a job that runs again (its completion was lost) finds its email here and sends nothing.';
comment on column lms_private.sent_emails.job_id is 'The graphile-worker job that sent it.';
comment on column lms_private.sent_emails.user_id is 'The user it was sent to.';
comment on column lms_private.sent_emails.purpose is 'Why: verify_email or reset_password.';
comment on column lms_private.sent_emails.recipient is 'The address it went to.';
comment on column lms_private.sent_emails.sent_at is 'When it was handed to the mail transport.';

--! Included functions/workers.sql
-- Workers: the worker processes' own bookkeeping, so that jobs survive crashes and retries.
-- Re-runnable: included by every migration that changes it.
--
-- Heartbeats: each graphile-worker pool (its id is what graphile-worker writes in locked_by)
-- records itself every LMS_WORKER_HEARTBEAT_SECONDS; any worker that finds a pool silent for
-- LMS_WORKER_STALE_SECONDS releases that pool's jobs with graphile-worker's own
-- force_unlock_workers, instead of graphile-worker's four-hour lock expiry.
-- Sent emails: an email job records what it sent, under its job id, so that a job that runs
-- again (its completion was lost with the connection) sends nothing twice.
-- Run only by the worker, as the owner: no execute grant to anyone.

select lms_private.begin_domain_functions();

create or replace function lms_private.record_worker_heartbeat(p_pool_id text, p_hostname text, p_pid integer) returns void
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  insert into lms_private.worker_heartbeats (pool_id, hostname, pid)
  values (p_pool_id, p_hostname, p_pid)
  on conflict (pool_id) do update set last_seen_at = now(), hostname = excluded.hostname, pid = excluded.pid;
$$;
comment on function lms_private.record_worker_heartbeat(text, text, integer) is
  'Records that a worker pool is alive now (the database''s clock, so the machines'' clocks do not matter).';

create or replace function lms_private.release_worker_pool(p_pool_id text) returns integer
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_jobs integer;
begin
  select count(*) into v_jobs from graphile_worker._private_jobs j where j.locked_by = p_pool_id;
  perform graphile_worker.force_unlock_workers(array[p_pool_id]);
  delete from lms_private.worker_heartbeats h where h.pool_id = p_pool_id;
  return v_jobs;
end
$$;
comment on function lms_private.release_worker_pool(text) is
  'Unlocks the jobs (and job queues) a worker pool holds and forgets its heartbeat: for a pool that has ended, '
  'by its own process after a graceful stop or after losing the database. Returns how many jobs it held.';

create or replace function lms_private.unlock_dead_workers(p_stale_seconds integer)
  returns table (pool_id text, jobs integer)
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_dead text[];
begin
  -- SKIP LOCKED: two workers sweeping at once release each dead pool once.
  with stale as (
    select h.pool_id from lms_private.worker_heartbeats h
    where h.last_seen_at < now() - make_interval(secs => p_stale_seconds)
    for update skip locked
  )
  select coalesce(array_agg(stale.pool_id), '{}') into v_dead from stale;
  if cardinality(v_dead) = 0 then
    return;
  end if;
  return query
    select d.id, (select count(*)::integer from graphile_worker._private_jobs j where j.locked_by = d.id)
    from unnest(v_dead) as d(id);
  perform graphile_worker.force_unlock_workers(v_dead);
  delete from lms_private.worker_heartbeats h where h.pool_id = any(v_dead);
end
$$;
comment on function lms_private.unlock_dead_workers(integer) is
  'Releases the jobs of every worker pool whose heartbeat is older than p_stale_seconds (killed, or its machine died), '
  'and forgets those pools. Returns each pool and how many jobs it held.';

create or replace function lms_private.email_already_sent(p_job_id bigint) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select exists (select 1 from lms_private.sent_emails e where e.job_id = p_job_id);
$$;
comment on function lms_private.email_already_sent(bigint) is
  'Whether the email job with this id has already sent its email (a retry must not send it again).';

create or replace function lms_private.record_sent_email(p_job_id bigint, p_user_id uuid, p_purpose text, p_recipient text) returns void
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  insert into lms_private.sent_emails (job_id, user_id, purpose, recipient)
  values (p_job_id, p_user_id, p_purpose, p_recipient)
  on conflict (job_id) do nothing;
$$;
comment on function lms_private.record_sent_email(bigint, uuid, text, text) is
  'Records that an email job sent its email: to whom and why (never the token or the text).';

--------------------------------------------------------------------------------
-- Execute grants: none. Only the worker, as the owner, calls these.

select lms_private.grant_domain_functions();
--! EndIncluded functions/workers.sql
--! Included policies/workers.sql
-- Workers: row level security of the worker's bookkeeping tables (heartbeats, sent emails).
-- Re-runnable: included by every migration that changes it.

alter table lms_private.worker_heartbeats enable row level security;
alter table lms_private.sent_emails enable row level security;

revoke all on lms_private.worker_heartbeats, lms_private.sent_emails
  from lms_anonymous, lms_student, lms_instructor, lms_admin, lms_authenticator;

-- No grant and no policy: RLS denies every visitor; only the worker, as the owner, reads and writes them.
--! EndIncluded policies/workers.sql
