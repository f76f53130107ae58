-- Identity: the functions of accounts, passwords, sessions, email tokens, TOTP MFA, lockout,
-- rate limits and the audit log, and their execute grants. Re-runnable: included by every
-- migration that changes it.
--
-- Errors a client can act on (see docs/errors.md): CREDS invalid credentials, LOCKD locked,
-- MFARQ MFA code required, MFABD invalid MFA code, MFAON/MFAOF MFA already on/off,
-- TKRUS refresh token reused, TKROT refresh token just rotated, TKEXP token invalid or expired,
-- EMTKN email taken, WEAKP weak password, DISBL account disabled, NOAUT not signed in,
-- FRBDN forbidden, NTFND not found, INVAL invalid input.
-- Functions that must record a failure (login, refresh) return a status instead of raising,
-- so that the record commits; the API turns the status into the error.

select lms_private.begin_domain_functions();

--------------------------------------------------------------------------------
-- The request, as the API describes it in pgSettings.

create or replace function lms_private.client_ip() returns inet
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select nullif(current_setting('lms.client_ip', true), '')::inet
$$;
comment on function lms_private.client_ip() is 'The client''s IP address (lms.client_ip, set by the API), or null.';

create or replace function lms_private.current_session_id() returns uuid
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select nullif(current_setting('jwt.claims.session_id', true), '')::uuid
$$;
comment on function lms_private.current_session_id() is 'The session (refresh-token chain) the access token belongs to, from jwt.claims.session_id.';

create or replace function lms_private.bcrypt_cost() returns integer
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select greatest(4, least(15, lms_private.required_setting('lms.bcrypt_cost')::integer))
$$;
comment on function lms_private.bcrypt_cost() is 'bcrypt cost for new hashes: lms.bcrypt_cost, which every caller sets (LMS_BCRYPT_COST, at least 10 in production), kept within 4..15; raises when it is not set.';

create or replace function lms_private.require_user() returns uuid
  language plpgsql stable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.current_user_id();
begin
  if v_user_id is null then
    raise exception using errcode = 'NOAUT', message = 'sign in first';
  end if;
  return v_user_id;
end
$$;
comment on function lms_private.require_user() is 'The signed-in user''s id; raises NOAUT when anonymous.';

create or replace function lms_private.require_admin() returns uuid
  language plpgsql stable
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if not lms_private.is_admin() then
    raise exception using errcode = 'FRBDN', message = 'only admins may do this';
  end if;
  return lms_private.require_user();
end
$$;
comment on function lms_private.require_admin() is 'The signed-in admin''s id; raises FRBDN for anyone else.';

create or replace function lms_private.session_role(p_user_id uuid) returns text
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select u.role from lms_public.users u where u.id = p_user_id and u.is_active
$$;
comment on function lms_private.session_role(uuid) is 'The role an access token''s user has now, or null when the user is deactivated or gone; checked on every request, so role changes and deactivation apply at once.';

--------------------------------------------------------------------------------
-- Audit log: append-only.

create or replace function lms_private.log_security_event(
  p_event_type text,
  p_user_id uuid,
  p_details jsonb default '{}'::jsonb,
  p_actor_id uuid default null
) returns void
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  insert into lms_private.security_events (event_type, user_id, actor_id, client_ip, details)
  values (p_event_type, p_user_id, p_actor_id, lms_private.client_ip(), coalesce(p_details, '{}'::jsonb))
$$;
comment on function lms_private.log_security_event(text, uuid, jsonb, uuid) is 'Appends a security event, stamped with the client''s IP.';

--------------------------------------------------------------------------------
-- Passwords.

create or replace function lms_private.normalise_email(p_email text) returns text
  language plpgsql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_email text := lower(btrim(coalesce(p_email, '')));
begin
  if v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or char_length(v_email) > 255 then
    raise exception using errcode = 'INVAL', message = 'the email address is not valid';
  end if;
  return v_email;
end
$$;
comment on function lms_private.normalise_email(text) is 'Trims and lower-cases an email address; raises INVAL when it is not one.';

create or replace function lms_private.hash_password(p_password text) returns text
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if p_password is null or char_length(p_password) < 10 then
    raise exception using errcode = 'WEAKP', message = 'the password must be at least 10 characters long';
  end if;
  -- bcrypt reads only the first 72 bytes; a longer password would be silently truncated.
  if octet_length(p_password) > 72 then
    raise exception using errcode = 'WEAKP', message = 'the password must be at most 72 bytes long';
  end if;
  return crypt(p_password, gen_salt('bf', lms_private.bcrypt_cost()));
end
$$;
comment on function lms_private.hash_password(text) is 'bcrypt-hashes a password after checking it: at least 10 characters, at most 72 bytes (WEAKP).';

create or replace function lms_private.password_matches(p_user_id uuid, p_password text) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce((select p.password_hash = crypt(coalesce(p_password, ''), p.password_hash)
                   from lms_private.user_passwords p where p.user_id = p_user_id), false)
$$;
comment on function lms_private.password_matches(uuid, text) is 'Whether the password is the user''s.';

--------------------------------------------------------------------------------
-- Sessions: opaque refresh tokens "<jti>.<secret>".

-- Replaced when its attributes change, with the functions below that use it (see common.sql).
select lms_private.define_composite_type('lms_private.session_grant', $$
  status text,
  user_id uuid,
  role text,
  session_id uuid,
  refresh_token text,
  refresh_expires_at timestamptz
$$);
comment on type lms_private.session_grant is 'What login and refresh return: a status (ok, or why not), and on ok the user, role, session and new refresh token.';

create or replace function lms_private.session_status(p_status text) returns lms_private.session_grant
  language sql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
  select row(p_status, null, null, null, null, null)::lms_private.session_grant
$$;
comment on function lms_private.session_status(text) is 'A session_grant that carries only a status: why there is no session.';

create or replace function lms_private.issue_refresh_token(
  p_user_id uuid,
  p_ttl interval,
  p_session_max interval,
  p_session_id uuid default null,
  p_session_expires_at timestamptz default null
) returns lms_private.session_grant
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_jti text := encode(gen_random_bytes(16), 'hex');
  v_secret text := encode(gen_random_bytes(32), 'hex');
  v_session_id uuid := coalesce(p_session_id, gen_random_uuid());
  v_session_expires_at timestamptz := coalesce(p_session_expires_at, now() + p_session_max);
  v_expires_at timestamptz := least(now() + p_ttl, v_session_expires_at);
  v_role text;
begin
  select u.role into v_role from lms_public.users u where u.id = p_user_id;
  insert into lms_private.refresh_tokens (user_id, token_jti, secret_hash, expires_at, session_id, session_expires_at)
  values (p_user_id, v_jti, digest(v_secret, 'sha256'), v_expires_at, v_session_id, v_session_expires_at);
  return row('ok', p_user_id, v_role, v_session_id, v_jti || '.' || v_secret, v_expires_at)::lms_private.session_grant;
end
$$;
comment on function lms_private.issue_refresh_token(uuid, interval, interval, uuid, timestamptz) is 'Mints a refresh token for a new session, or the next one of an existing session; returns it once.';

create or replace function lms_private.find_refresh_token(p_token text) returns lms_private.refresh_tokens
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select t.* from lms_private.refresh_tokens t
  where coalesce(p_token, '') ~ '^[0-9a-f]{32}\.[0-9a-f]{64}$'
    and t.token_jti = split_part(p_token, '.', 1)
    and t.secret_hash = digest(split_part(p_token, '.', 2), 'sha256')
$$;
comment on function lms_private.find_refresh_token(text) is 'The refresh token row a presented token names, when its secret matches.';

create or replace function lms_private.revoke_refresh_tokens(p_user_id uuid, p_reason text, p_keep_session uuid default null) returns integer
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  with revoked as (
    update lms_private.refresh_tokens t set revoked_at = now(), revoked_reason = p_reason
    where t.user_id = p_user_id and t.revoked_at is null
      and (p_keep_session is null or t.session_id <> p_keep_session)
    returning 1
  )
  select count(*)::integer from revoked
$$;
comment on function lms_private.revoke_refresh_tokens(uuid, text, uuid) is 'Revokes every live refresh token of a user, except those of one session if given; returns how many.';

--------------------------------------------------------------------------------
-- TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) and recovery codes.

create or replace function lms_private.base32_decode(p_text text) returns bytea
  language plpgsql immutable strict
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_alphabet constant text := 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  v_clean text := upper(regexp_replace(p_text, '[\s=-]', '', 'g'));
  v_buffer bigint := 0;
  v_bits integer := 0;
  v_out bytea := '\x'::bytea;
  v_value integer;
begin
  for i in 1 .. char_length(v_clean) loop
    v_value := strpos(v_alphabet, substr(v_clean, i, 1)) - 1;
    if v_value < 0 then
      raise exception using errcode = 'INVAL', message = 'not a base32 secret';
    end if;
    v_buffer := ((v_buffer << 5) | v_value) & 65535;
    v_bits := v_bits + 5;
    if v_bits >= 8 then
      v_bits := v_bits - 8;
      v_out := v_out || set_byte('\x00'::bytea, 0, ((v_buffer >> v_bits) & 255)::integer);
    end if;
  end loop;
  return v_out;
end
$$;
comment on function lms_private.base32_decode(text) is 'Decodes an RFC 4648 base32 string (a TOTP secret) to bytes.';

create or replace function lms_private.totp_code(p_secret text, p_step bigint) returns text
  language plpgsql immutable strict
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_mac bytea := hmac(int8send(p_step), lms_private.base32_decode(p_secret), 'sha1');
  v_offset integer := get_byte(v_mac, 19) & 15;
  v_binary bigint;
begin
  v_binary := ((get_byte(v_mac, v_offset) & 127)::bigint << 24)
            | (get_byte(v_mac, v_offset + 1)::bigint << 16)
            | (get_byte(v_mac, v_offset + 2)::bigint << 8)
            | get_byte(v_mac, v_offset + 3)::bigint;
  return lpad((v_binary % 1000000)::text, 6, '0');
end
$$;
comment on function lms_private.totp_code(text, bigint) is 'The 6-digit TOTP code of a base32 secret for a 30-second step (RFC 6238 / RFC 4226 dynamic truncation).';

create or replace function lms_private.matching_totp_step(p_secret text, p_code text, p_after_step bigint) returns bigint
  language sql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
  -- One step of clock drift either way; a step at or before p_after_step was already used.
  select s.step
  from generate_series(floor(extract(epoch from clock_timestamp()) / 30)::bigint - 1,
                       floor(extract(epoch from clock_timestamp()) / 30)::bigint + 1) as s(step)
  where p_code ~ '^\d{6}$' and s.step > p_after_step and lms_private.totp_code(p_secret, s.step) = p_code
  order by s.step
  limit 1
$$;
comment on function lms_private.matching_totp_step(text, text, bigint) is 'The time step whose TOTP code is p_code (within one step of now, after p_after_step), or null.';

create or replace function lms_private.normalise_recovery_code(p_code text) returns text
  language sql immutable
  set search_path = pg_catalog, public, pg_temp
as $$
  -- Recovery codes are issued as xxxxx-xxxxx; accept them typed in any case, with or without separators.
  select case when char_length(c) = 10 then substr(c, 1, 5) || '-' || substr(c, 6, 5) else c end
  from (select regexp_replace(lower(coalesce(p_code, '')), '[^0-9a-f]', '', 'g') as c) x
$$;
comment on function lms_private.normalise_recovery_code(text) is 'The canonical xxxxx-xxxxx form of a recovery code as typed.';

create or replace function lms_private.consume_mfa_code(p_user_id uuid, p_code text) returns boolean
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_mfa lms_private.user_mfa;
  v_step bigint;
  v_code text := btrim(coalesce(p_code, ''));
begin
  select * into v_mfa from lms_private.user_mfa where user_id = p_user_id and secret is not null for update;
  if not found then
    return false;
  end if;
  v_step := lms_private.matching_totp_step(v_mfa.secret, v_code, v_mfa.last_used_step);
  if v_step is not null then
    update lms_private.user_mfa set last_used_step = v_step where user_id = p_user_id;
    return true;
  end if;
  update lms_private.mfa_recovery_codes set used_at = now()
  where id = (select r.id from lms_private.mfa_recovery_codes r
              where r.user_id = p_user_id and r.used_at is null and r.code_hash = digest(lms_private.normalise_recovery_code(v_code), 'sha256')
              limit 1);
  if found then
    perform lms_private.log_security_event('mfa_recovery_code_used', p_user_id);
  end if;
  return found;
end
$$;
comment on function lms_private.consume_mfa_code(uuid, text) is 'Accepts a current TOTP code once (no replay within its window), or an unused recovery code; returns whether it was accepted.';

--------------------------------------------------------------------------------
-- Lockout.

-- Keyed by normalised email and client IP, whether or not an account has the email, so that a
-- lock says nothing about which emails exist, and an attacker's failures from one address do not
-- lock the owner out from another. A ceiling across all addresses bounds guessing from many
-- addresses; it spares the addresses the account signed in from lately, so the owner keeps a way in.

create or replace function lms_private.login_ip_locked(p_email text) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select exists (
    select from lms_private.user_lockouts l
    where l.email = p_email and l.client_ip is not distinct from lms_private.client_ip() and l.locked_until > now()
  )
$$;
comment on function lms_private.login_ip_locked(text) is 'Whether sign-ins for this normalised email are locked from the client''s IP (5 failures from it within 15 minutes lock it for 15 minutes).';

create or replace function lms_private.login_locked(p_email text, p_user_id uuid) returns boolean
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select lms_private.login_ip_locked(p_email)
      or ((select count(*) from (
             select from lms_private.security_events e
             where e.event_type = 'login_failed' and e.details->>'email' = p_email and e.occurred_at > now() - interval '1 hour'
             limit 100) f) >= 100
          and not exists (
             select from lms_private.security_events s
             where p_user_id is not null and s.user_id = p_user_id and s.event_type = 'login_succeeded'
               and s.client_ip is not distinct from lms_private.client_ip() and s.occurred_at > now() - interval '30 days'))
$$;
comment on function lms_private.login_locked(text, uuid) is 'Whether a login for this normalised email (and its account, if any) is refused as locked: locked from the client''s IP, or 100 failures from any IPs within the hour and the client''s IP has not signed in to the account within 30 days.';

create or replace function lms_private.record_login_failure(p_user_id uuid, p_email text, p_reason text) returns void
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_email text := coalesce(p_email, (select u.email from lms_public.users u where u.id = p_user_id));
  v_ip inet := lms_private.client_ip();
  v_failures integer;
begin
  perform lms_private.log_security_event('login_failed', p_user_id, jsonb_build_object('email', p_email, 'reason', p_reason));
  -- Failures of a signed-in user's checks carry the user but no email.
  select count(*) into v_failures
  from lms_private.security_events e
  where e.event_type = 'login_failed'
    and (e.user_id = p_user_id or e.details->>'email' = v_email)
    and e.client_ip is not distinct from v_ip
    and e.occurred_at > now() - interval '15 minutes'
    and e.occurred_at > coalesce((
      select max(s.occurred_at) from lms_private.security_events s
      where s.user_id = p_user_id and s.event_type = 'login_succeeded' and s.client_ip is not distinct from v_ip), '-infinity')
    and e.occurred_at > coalesce((
      select l.locked_until from lms_private.user_lockouts l where l.email = v_email and l.client_ip is not distinct from v_ip), '-infinity');
  if v_failures >= 5 then
    insert into lms_private.user_lockouts as l (email, client_ip, user_id, locked_until) values (v_email, v_ip, p_user_id, now() + interval '15 minutes')
    on conflict (email, client_ip) do update set locked_until = excluded.locked_until, user_id = coalesce(excluded.user_id, l.user_id);
    perform lms_private.log_security_event('account_locked', p_user_id, jsonb_build_object('email', v_email, 'failures', v_failures, 'minutes', 15));
  end if;
end
$$;
comment on function lms_private.record_login_failure(uuid, text, text) is 'Records a failed login (unknown email, wrong password or MFA code, or a signed-in user''s wrong current password or code); the fifth within 15 minutes for one email from one IP, since the last sign-in from that IP, locks that email from that IP for 15 minutes.';

--------------------------------------------------------------------------------
-- Registration and login.

create or replace function lms_public.register(email text, password text, full_name text) returns lms_public.users
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user lms_public.users;
  v_email text := lms_private.normalise_email(email);
  v_name text := btrim(coalesce(full_name, ''));
  v_hash text;
begin
  if v_name = '' or char_length(v_name) > 255 then
    raise exception using errcode = 'INVAL', message = 'the full name must be 1 to 255 characters';
  end if;
  v_hash := lms_private.hash_password(password);
  insert into lms_public.users (email, full_name) values (v_email, v_name)
  on conflict on constraint users_email_key do nothing
  returning * into v_user;
  if v_user.id is null then
    raise exception using errcode = 'EMTKN', message = 'an account with this email address already exists';
  end if;
  insert into lms_private.user_passwords (user_id, password_hash) values (v_user.id, v_hash);
  perform lms_private.log_security_event('registered', v_user.id);
  perform lms_private.add_job('users__send_verification_email', jsonb_build_object('userId', v_user.id), job_key => 'users__send_verification_email:' || v_user.id);
  return v_user;
end
$$;
comment on function lms_public.register(text, text, text) is E'@resultFieldName user\nCreates a student account and emails a link to verify the address. The email is trimmed and lower-cased; the password needs 10 characters to 72 bytes (WEAKP); a taken email is EMTKN.';

create or replace function lms_private.login(
  p_email text,
  p_password text,
  p_mfa_code text,
  p_ttl interval,
  p_session_max interval
) returns lms_private.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_email text := lower(btrim(coalesce(p_email, '')));
  v_user lms_public.users;
  v_hash text;
  v_grant lms_private.session_grant;
begin
  -- One login at a time per email, known or not: overlapping attempts must all count toward the lockout.
  perform pg_advisory_xact_lock(hashtext('lms_private.login:' || v_email));
  select u.* into v_user from lms_public.users u where u.email = v_email for no key update;
  -- Before the account matters: a locked unknown email answers exactly as a locked account.
  if lms_private.login_locked(v_email, v_user.id) then
    perform lms_private.log_security_event('login_refused_locked', v_user.id, jsonb_build_object('email', v_email));
    return lms_private.session_status('locked');
  end if;
  if v_user.id is null then
    -- The same bcrypt work as for a real account, so that timing tells nothing.
    perform crypt(coalesce(p_password, ''), gen_salt('bf', lms_private.bcrypt_cost()));
    perform lms_private.record_login_failure(null, v_email, 'unknown_email');
    return lms_private.session_status('invalid_credentials');
  end if;
  select p.password_hash into v_hash from lms_private.user_passwords p where p.user_id = v_user.id;
  if v_hash is null or v_hash <> crypt(coalesce(p_password, ''), v_hash) then
    perform lms_private.record_login_failure(v_user.id, v_email, 'wrong_password');
    return lms_private.session_status('invalid_credentials');
  end if;
  if not v_user.is_active then
    perform lms_private.log_security_event('login_refused_disabled', v_user.id);
    return lms_private.session_status('account_disabled');
  end if;
  if v_user.mfa_enabled then
    if nullif(btrim(coalesce(p_mfa_code, '')), '') is null then
      return lms_private.session_status('mfa_required');
    end if;
    if not lms_private.consume_mfa_code(v_user.id, p_mfa_code) then
      perform lms_private.record_login_failure(v_user.id, v_email, 'wrong_mfa_code');
      return lms_private.session_status('invalid_mfa_code');
    end if;
  end if;
  update lms_public.users set last_login_at = now() where id = v_user.id;
  -- Only this address's lock: the owner signing in must not lift an attacker's lock elsewhere.
  delete from lms_private.user_lockouts l where l.email = v_email and l.client_ip is not distinct from lms_private.client_ip();
  v_grant := lms_private.issue_refresh_token(v_user.id, p_ttl, p_session_max);
  perform lms_private.log_security_event('login_succeeded', v_user.id, jsonb_build_object('session_id', v_grant.session_id));
  return v_grant;
end
$$;
comment on function lms_private.login(text, text, text, interval, interval) is 'Checks a login and, when it succeeds, starts a session. Returns a status rather than raising, so that failures and lockouts commit: ok, invalid_credentials, locked, account_disabled, mfa_required or invalid_mfa_code.';

create or replace function lms_private.refresh_session(p_token text, p_reuse_interval interval, p_ttl interval) returns lms_private.session_grant
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_token lms_private.refresh_tokens;
  v_grant lms_private.session_grant;
begin
  v_token := lms_private.find_refresh_token(p_token);
  if v_token.id is null then
    return lms_private.session_status('invalid_token');
  end if;
  -- Two refreshes with one token queue here; the second sees what the first did.
  select * into v_token from lms_private.refresh_tokens where id = v_token.id for update;
  if v_token.revoked_at is not null then
    if v_token.revoked_reason <> 'rotated' then
      return lms_private.session_status('invalid_token');
    end if;
    -- clock_timestamp: a refresh that waited on the lock started before the rotation it lost to.
    if clock_timestamp() - v_token.revoked_at <= p_reuse_interval then
      perform lms_private.log_security_event('refresh_token_already_rotated', v_token.user_id, jsonb_build_object('session_id', v_token.session_id));
      return lms_private.session_status('token_rotated');
    end if;
    perform lms_private.revoke_refresh_tokens(v_token.user_id, 'reuse');
    perform lms_private.log_security_event('refresh_token_reused', v_token.user_id, jsonb_build_object('session_id', v_token.session_id));
    return lms_private.session_status('token_reused');
  end if;
  if v_token.expires_at <= now() then
    return lms_private.session_status('token_expired');
  end if;
  if lms_private.session_role(v_token.user_id) is null then
    return lms_private.session_status('account_disabled');
  end if;
  v_grant := lms_private.issue_refresh_token(v_token.user_id, p_ttl, null, v_token.session_id, v_token.session_expires_at);
  update lms_private.refresh_tokens
  set revoked_at = clock_timestamp(), revoked_reason = 'rotated', replaced_by_jti = split_part(v_grant.refresh_token, '.', 1)
  where id = v_token.id;
  return v_grant;
end
$$;
comment on function lms_private.refresh_session(text, interval, interval) is 'Rotates a refresh token: revokes it and issues the next one of its session. A token rotated within p_reuse_interval answers token_rotated and changes nothing; an older rotated token is reuse, which revokes every live token of the user. Other statuses: invalid_token, token_expired, account_disabled.';

create or replace function lms_public.logout(refresh_token text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_token lms_private.refresh_tokens := lms_private.find_refresh_token(refresh_token);
begin
  if v_token.id is not null and v_token.revoked_at is null then
    update lms_private.refresh_tokens set revoked_at = now(), revoked_reason = 'logout' where id = v_token.id;
    perform lms_private.log_security_event('logout', v_token.user_id, jsonb_build_object('session_id', v_token.session_id));
  end if;
  return true;
end
$$;
comment on function lms_public.logout(text) is E'@resultFieldName success\nEnds the session of a refresh token. Always succeeds, so it reveals nothing about the token.';

create or replace function lms_public.logout_everywhere() returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
begin
  perform lms_private.log_security_event('logout_everywhere', v_user_id,
    jsonb_build_object('revoked', lms_private.revoke_refresh_tokens(v_user_id, 'logout_all')));
  return true;
end
$$;
comment on function lms_public.logout_everywhere() is E'@resultFieldName success\nEnds every session of the signed-in user.';

--------------------------------------------------------------------------------
-- Email verification and password reset.

create or replace function lms_private.issue_email_token(p_user_id uuid, p_purpose text)
  returns table (token text, email text, full_name text)
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user lms_public.users;
  v_token text := translate(encode(gen_random_bytes(32), 'base64'), '+/=', '-_');
begin
  select * into v_user from lms_public.users u where u.id = p_user_id and u.is_active;
  if v_user.id is null or (p_purpose = 'verify_email' and v_user.email_verified_at is not null) then
    return;
  end if;
  update lms_private.email_tokens t set used_at = now()
  where t.user_id = p_user_id and t.purpose = p_purpose and t.used_at is null;
  insert into lms_private.email_tokens (user_id, purpose, token_hash, expires_at)
  values (p_user_id, p_purpose, digest(v_token, 'sha256'),
          now() + case p_purpose when 'verify_email' then interval '24 hours' else interval '1 hour' end);
  return query select v_token, v_user.email::text, v_user.full_name::text;
end
$$;
comment on function lms_private.issue_email_token(uuid, text) is 'Mints a single-use email token (verify_email: 24 hours; reset_password: 1 hour), superseding older ones, and returns it once to the worker task that emails it. Nothing when the user no longer needs one.';

create or replace function lms_private.use_email_token(p_token text, p_purpose text) returns uuid
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row lms_private.email_tokens;
begin
  select * into v_row from lms_private.email_tokens t
  where t.token_hash = digest(coalesce(p_token, ''), 'sha256') and t.purpose = p_purpose
  for update;
  if v_row.id is null or v_row.used_at is not null or v_row.expires_at <= now() then
    raise exception using errcode = 'TKEXP', message = 'the link is invalid or has expired';
  end if;
  update lms_private.email_tokens set used_at = now() where id = v_row.id;
  return v_row.user_id;
end
$$;
comment on function lms_private.use_email_token(text, text) is 'Spends a single-use email token and returns its user; raises TKEXP when it is unknown, used or expired.';

create or replace function lms_public.verify_email(token text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.use_email_token(token, 'verify_email');
begin
  update lms_public.users set email_verified_at = coalesce(email_verified_at, now()) where id = v_user_id;
  perform lms_private.log_security_event('email_verified', v_user_id);
  return true;
end
$$;
comment on function lms_public.verify_email(text) is E'@resultFieldName success\nProves the user owns their email address, with the token from the verification email (TKEXP when invalid, used or expired).';

create or replace function lms_public.resend_verification_email() returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
begin
  if exists (select from lms_public.users u where u.id = v_user_id and u.email_verified_at is null) then
    perform lms_private.add_job('users__send_verification_email', jsonb_build_object('userId', v_user_id), job_key => 'users__send_verification_email:' || v_user_id);
  end if;
  return true;
end
$$;
comment on function lms_public.resend_verification_email() is E'@resultFieldName success\nEmails the signed-in user a new verification link, unless their address is already verified.';

create or replace function lms_public.request_password_reset(email text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid;
begin
  select u.id into v_user_id from lms_public.users u where u.email = lower(btrim(coalesce(request_password_reset.email, ''))) and u.is_active;
  if v_user_id is not null then
    perform lms_private.add_job('users__send_password_reset_email', jsonb_build_object('userId', v_user_id), job_key => 'users__send_password_reset_email:' || v_user_id);
    perform lms_private.log_security_event('password_reset_requested', v_user_id);
  end if;
  return true;
end
$$;
comment on function lms_public.request_password_reset(text) is E'@resultFieldName success\nEmails a password-reset link if an active account has this address. Answers the same either way.';

create or replace function lms_public.reset_password(token text, new_password text) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hash text := lms_private.hash_password(new_password);
  v_user_id uuid := lms_private.use_email_token(token, 'reset_password');
begin
  update lms_private.user_passwords set password_hash = v_hash where user_id = v_user_id;
  delete from lms_private.user_lockouts l
  where l.user_id = v_user_id or l.email = (select u.email from lms_public.users u where u.id = v_user_id);
  perform lms_private.log_security_event('password_reset', v_user_id,
    jsonb_build_object('sessions_revoked', lms_private.revoke_refresh_tokens(v_user_id, 'password_reset')));
  return true;
end
$$;
comment on function lms_public.reset_password(text, text) is E'@resultFieldName success\nSets a new password with the token from the reset email, and ends every session (TKEXP, WEAKP).';

create or replace function lms_private.change_password(p_current_password text, p_new_password text) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_hash text := lms_private.hash_password(p_new_password);
  v_email text;
begin
  select u.email into v_email from lms_public.users u where u.id = v_user_id for no key update;
  if lms_private.login_ip_locked(v_email) then
    return 'locked';
  end if;
  if not lms_private.password_matches(v_user_id, p_current_password) then
    perform lms_private.record_login_failure(v_user_id, null, 'wrong_current_password');
    return 'invalid_credentials';
  end if;
  update lms_private.user_passwords set password_hash = v_hash where user_id = v_user_id;
  perform lms_private.log_security_event('password_changed', v_user_id, jsonb_build_object(
    'sessions_revoked', lms_private.revoke_refresh_tokens(v_user_id, 'password_change', lms_private.current_session_id())));
  return 'ok';
end
$$;
comment on function lms_private.change_password(text, text) is 'Changes the signed-in user''s password and ends their other sessions. A wrong current password is recorded and counts toward the lockout of the account from the client''s IP, so it returns a status (ok, invalid_credentials, locked) for the API to turn into an error; a weak new password raises WEAKP.';

create or replace function lms_public.update_profile(full_name text, profile_metadata jsonb) returns lms_public.users
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_name text := btrim(coalesce(full_name, ''));
  v_user lms_public.users;
begin
  if v_name = '' or char_length(v_name) > 255 then
    raise exception using errcode = 'INVAL', message = 'the full name must be 1 to 255 characters';
  end if;
  update lms_public.users u set full_name = v_name, profile_metadata = update_profile.profile_metadata
  where u.id = v_user_id
  returning * into v_user;
  return v_user;
end
$$;
comment on function lms_public.update_profile(text, jsonb) is E'@resultFieldName user\nSets the signed-in user''s name and profile data.';

--------------------------------------------------------------------------------
-- MFA.

create or replace function lms_private.begin_mfa_enrollment(p_secret text) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_email text;
begin
  select u.email into v_email from lms_public.users u where u.id = v_user_id and not u.mfa_enabled;
  if v_email is null then
    raise exception using errcode = 'MFAON', message = 'MFA is already on; disable it first';
  end if;
  perform lms_private.base32_decode(p_secret);
  insert into lms_private.user_mfa (user_id, pending_secret) values (v_user_id, p_secret)
  on conflict (user_id) do update set pending_secret = excluded.pending_secret;
  perform lms_private.log_security_event('mfa_enrollment_started', v_user_id);
  return v_email;
end
$$;
comment on function lms_private.begin_mfa_enrollment(text) is 'Stores a new pending TOTP secret for the signed-in user (MFAON while MFA is on); returns their email, for the authenticator''s label.';

create or replace function lms_private.confirm_mfa(p_code text) returns text[]
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_mfa lms_private.user_mfa;
  v_step bigint;
  v_codes text[];
begin
  select * into v_mfa from lms_private.user_mfa m where m.user_id = v_user_id for update;
  if v_mfa.pending_secret is null then
    raise exception using errcode = 'INVAL', message = 'there is no MFA set-up to confirm; call enableMfa first';
  end if;
  v_step := lms_private.matching_totp_step(v_mfa.pending_secret, btrim(coalesce(p_code, '')), 0);
  if v_step is null then
    raise exception using errcode = 'MFABD', message = 'the code is not valid';
  end if;
  update lms_private.user_mfa
  set secret = pending_secret, pending_secret = null, last_used_step = v_step, confirmed_at = now()
  where user_id = v_user_id;
  update lms_public.users set mfa_enabled = true where id = v_user_id;
  delete from lms_private.mfa_recovery_codes where user_id = v_user_id;
  select array_agg(substr(c, 1, 5) || '-' || substr(c, 6, 5)) into v_codes
  from (select encode(gen_random_bytes(5), 'hex') as c from generate_series(1, 10)) codes;
  insert into lms_private.mfa_recovery_codes (user_id, code_hash)
  select v_user_id, digest(code, 'sha256') from unnest(v_codes) as code;
  perform lms_private.log_security_event('mfa_enabled', v_user_id);
  return v_codes;
end
$$;
comment on function lms_private.confirm_mfa(text) is 'Turns MFA on once a code from the pending secret checks out (MFABD otherwise), and returns ten one-time recovery codes, shown once.';

create or replace function lms_private.disable_mfa(p_code text) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := lms_private.require_user();
  v_email text;
begin
  select u.email into v_email from lms_public.users u where u.id = v_user_id for no key update;
  if not exists (select from lms_public.users u where u.id = v_user_id and u.mfa_enabled) then
    return 'mfa_off';
  end if;
  if lms_private.login_ip_locked(v_email) then
    return 'locked';
  end if;
  if not lms_private.consume_mfa_code(v_user_id, p_code) then
    perform lms_private.record_login_failure(v_user_id, null, 'wrong_mfa_code');
    return 'invalid_mfa_code';
  end if;
  delete from lms_private.user_mfa where user_id = v_user_id;
  delete from lms_private.mfa_recovery_codes where user_id = v_user_id;
  update lms_public.users set mfa_enabled = false where id = v_user_id;
  perform lms_private.log_security_event('mfa_disabled', v_user_id);
  return 'ok';
end
$$;
comment on function lms_private.disable_mfa(text) is 'Turns MFA off with a current code or a recovery code. A wrong code is recorded and counts toward the lockout of the account from the client''s IP, so it returns a status (ok, invalid_mfa_code, mfa_off, locked) for the API to turn into an error.';

--------------------------------------------------------------------------------
-- Admin control.

create or replace function lms_public.set_user_role(user_id uuid, role text) returns lms_public.users
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_admin_id uuid := lms_private.require_admin();
  v_user lms_public.users;
  v_old text;
begin
  if user_id = v_admin_id then
    raise exception using errcode = 'FRBDN', message = 'admins cannot change their own role';
  end if;
  if role is null or role not in ('student', 'instructor', 'admin') then
    raise exception using errcode = 'INVAL', message = 'the role must be student, instructor or admin';
  end if;
  select u.role into v_old from lms_public.users u where u.id = set_user_role.user_id for update;
  if v_old is null then
    raise exception using errcode = 'NTFND', message = 'no such user';
  end if;
  update lms_public.users u set role = set_user_role.role where u.id = set_user_role.user_id returning * into v_user;
  perform lms_private.log_security_event('role_changed', v_user.id, jsonb_build_object('from', v_old, 'to', v_user.role), v_admin_id);
  return v_user;
end
$$;
comment on function lms_public.set_user_role(uuid, text) is E'@resultFieldName user\nAdmins only: makes a user a student, instructor or admin; applies from the user''s next request.';

create or replace function lms_public.set_user_active(user_id uuid, active boolean) returns lms_public.users
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_admin_id uuid := lms_private.require_admin();
  v_user lms_public.users;
begin
  if user_id = v_admin_id then
    raise exception using errcode = 'FRBDN', message = 'admins cannot deactivate themselves';
  end if;
  update lms_public.users u set is_active = coalesce(active, u.is_active) where u.id = set_user_active.user_id returning * into v_user;
  if v_user.id is null then
    raise exception using errcode = 'NTFND', message = 'no such user';
  end if;
  if v_user.is_active then
    perform lms_private.log_security_event('user_reactivated', v_user.id, '{}', v_admin_id);
  else
    perform lms_private.log_security_event('user_deactivated', v_user.id,
      jsonb_build_object('sessions_revoked', lms_private.revoke_refresh_tokens(v_user.id, 'deactivated')), v_admin_id);
  end if;
  return v_user;
end
$$;
comment on function lms_public.set_user_active(uuid, boolean) is E'@resultFieldName user\nAdmins only: deactivates a user (ending their sessions, and refusing their access tokens from the next request) or reactivates them.';

create or replace function lms_public.reset_user_mfa(user_id uuid) returns lms_public.users
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_admin_id uuid := lms_private.require_admin();
  v_user lms_public.users;
begin
  update lms_public.users u set mfa_enabled = false where u.id = reset_user_mfa.user_id returning * into v_user;
  if v_user.id is null then
    raise exception using errcode = 'NTFND', message = 'no such user';
  end if;
  delete from lms_private.user_mfa m where m.user_id = v_user.id;
  delete from lms_private.mfa_recovery_codes r where r.user_id = v_user.id;
  perform lms_private.log_security_event('mfa_reset_by_admin', v_user.id, '{}', v_admin_id);
  return v_user;
end
$$;
comment on function lms_public.reset_user_mfa(uuid) is E'@resultFieldName user\nAdmins only: turns off a user''s MFA, for a user who lost their authenticator and recovery codes.';

create or replace function lms_private.create_admin(p_email text, p_password text, p_full_name text) returns uuid
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_email text := lms_private.normalise_email(p_email);
  v_hash text := lms_private.hash_password(p_password);
  v_user_id uuid;
begin
  insert into lms_public.users (email, full_name, role, email_verified_at)
  values (v_email, coalesce(nullif(btrim(p_full_name), ''), 'Administrator'), 'admin', now())
  on conflict on constraint users_email_key do update set role = 'admin', is_active = true
  returning id into v_user_id;
  insert into lms_private.user_passwords (user_id, password_hash) values (v_user_id, v_hash)
  on conflict (user_id) do update set password_hash = excluded.password_hash;
  perform lms_private.log_security_event('admin_created', v_user_id);
  return v_user_id;
end
$$;
comment on function lms_private.create_admin(text, text, text) is 'Creates an admin, or makes an existing user an admin with this password; run by `npm run create-admin` as the owner.';

--------------------------------------------------------------------------------
-- Rate limits and clean-up.

create or replace function lms_private.consume_rate_limit(p_actions text[], p_client_key text) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_limit lms_private.rate_limits;
  v_hits integer;
begin
  -- One hit per occurrence: a request that aliases login three times makes three attempts.
  for v_limit in select r.* from unnest(p_actions) as a(action) join lms_private.rate_limits r on r.action = a.action loop
    insert into lms_private.rate_limit_hits as h (action, client_key, window_start, hits)
    values (v_limit.action, p_client_key, date_bin(v_limit.per, now(), timestamptz '2000-01-01'), 1)
    on conflict (action, client_key, window_start) do update set hits = h.hits + 1
    returning h.hits into v_hits;
    if v_hits > v_limit.max_hits then
      return v_limit.action;
    end if;
  end loop;
  return null;
end
$$;
comment on function lms_private.consume_rate_limit(text[], text) is 'Counts one request per limited action for a client IP; returns the first action over its limit, or null. Called by the API before the operation runs, in its own transaction, so every attempt counts.';

create or replace function lms_private.rate_limit_window(p_action text, out max_hits integer, out retry_after_seconds integer)
  language sql stable security definer
  set search_path = pg_catalog, public, pg_temp
as $$
  select r.max_hits,
         greatest(1, ceil(extract(epoch from date_bin(r.per, now(), timestamptz '2000-01-01') + r.per - now())))::integer
  from lms_private.rate_limits r where r.action = p_action
$$;
comment on function lms_private.rate_limit_window(text) is 'An action''s limit per window, and the seconds until its current window ends: the API''s Retry-After and RateLimit headers on HTTP 429.';

create or replace function lms_private.purge_stale_auth_state() returns jsonb
  language plpgsql volatile
  set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_tokens integer;
  v_email_tokens integer;
  v_hits integer;
  v_lockouts integer;
begin
  delete from lms_private.refresh_tokens where expires_at < now();
  get diagnostics v_tokens = row_count;
  delete from lms_private.email_tokens where expires_at < now() - interval '1 day';
  get diagnostics v_email_tokens = row_count;
  delete from lms_private.rate_limit_hits h using lms_private.rate_limits r
  where r.action = h.action and h.window_start + r.per < now();
  get diagnostics v_hits = row_count;
  delete from lms_private.user_lockouts where locked_until < now();
  get diagnostics v_lockouts = row_count;
  return jsonb_build_object('refresh_tokens', v_tokens, 'email_tokens', v_email_tokens, 'rate_limit_hits', v_hits, 'lockouts', v_lockouts);
end
$$;
comment on function lms_private.purge_stale_auth_state() is 'Deletes expired refresh tokens, long-expired email tokens, past rate-limit windows and ended lockouts; run hourly by the auth_state__purge job.';

create or replace function lms_public.current_user_profile() returns lms_public.users
  language sql stable
  set search_path = pg_catalog, public, pg_temp
as $$
  select u.* from lms_public.users u where u.id = lms_private.current_user_id()
$$;
comment on function lms_public.current_user_profile() is E'@name current_user\nThe signed-in user, or null when anonymous.';

create or replace function lms_private.tg_users__require_password() returns trigger
  -- Definer: it fires at commit as whoever inserted, and visitors cannot read password rows.
  language plpgsql security definer
  set search_path = pg_catalog, public, pg_temp
as $$
begin
  if exists (select from lms_public.users u where u.id = new.id)
     and not exists (select from lms_private.user_passwords p where p.user_id = new.id) then
    raise exception using errcode = 'not_null_violation',
      message = 'a user needs a password (lms_private.user_passwords) by the end of the transaction',
      table = 'users', column = 'password_hash';
  end if;
  return null;
end
$$;
comment on function lms_private.tg_users__require_password() is 'Constraint trigger: keeps the design document''s users.password_hash NOT NULL across the 1:1 split.';

--------------------------------------------------------------------------------
-- Execute grants. Everything not named here runs only inside definer functions, as the owner.

select lms_private.grant_domain_functions(
  everyone => array[
    'client_ip', 'current_session_id', 'bcrypt_cost', 'require_user', 'require_admin',
    'register', 'login', 'refresh_session', 'logout', 'verify_email', 'request_password_reset', 'reset_password',
    'current_user_profile',
    -- Anonymous callers too: each starts with require_user(), which answers them NOAUT (migration 000007).
    'logout_everywhere', 'resend_verification_email', 'change_password', 'update_profile',
    'begin_mfa_enrollment', 'confirm_mfa', 'disable_mfa'],
  admins => array['set_user_role', 'set_user_active', 'reset_user_mfa'],
  -- The API's own connection, before it switches role: the per-request role check and the rate limiter.
  authenticator => array['session_role', 'consume_rate_limit', 'rate_limit_window']
);
