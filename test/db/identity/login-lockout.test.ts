import pg from 'pg';
import { createTestDatabase, type TestDatabase, type Transaction, committedAs } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';
import { FAST_BCRYPT, eventsOf, fastBcrypt, jtiOf, login, PASSWORD } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

describe('lms_private.login, as lms_anonymous', () => {
  it('starts a session: an opaque "<jti>.<secret>" token of which only the secret\'s SHA-256 is stored', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      const grant = await login(tx, user.email, PASSWORD, { ttl: '7 days', sessionMax: '30 days' });
      expect(grant).toMatchObject({ status: 'ok', user_id: user.id, role: 'student' });
      expect(grant.session_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(grant.refresh_token).toMatch(/^[0-9a-f]{32}\.[0-9a-f]{64}$/);
      const [jti, secret] = grant.refresh_token!.split('.');

      await tx.becomeRoot();
      const { rows } = await tx.query(
        `select t.user_id, t.token_jti, t.session_id, t.revoked_at,
                t.secret_hash = digest($2, 'sha256') as hash_matches,
                -- A JS Date keeps milliseconds only.
                abs(extract(epoch from t.expires_at - $3::timestamptz)) < 0.001 as expiry_matches,
                t.expires_at between now() + interval '7 days' - interval '1 minute' and now() + interval '7 days' as ttl_ok,
                t.session_expires_at between now() + interval '30 days' - interval '1 minute' and now() + interval '30 days' as session_ok,
                position($2 in t::text) = 0 as secret_absent
         from lms_private.refresh_tokens t where t.user_id = $1`,
        [user.id, secret, grant.refresh_expires_at],
      );
      expect(rows).toEqual([
        {
          user_id: user.id,
          token_jti: jti,
          session_id: grant.session_id,
          revoked_at: null,
          hash_matches: true,
          expiry_matches: true,
          ttl_ok: true,
          session_ok: true,
          secret_absent: true,
        },
      ]);
    }));

  it('finds the account whatever the case and spacing of the email, and sets last_login_at', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client, { email: 'mixed.case@example.test' });
      await tx.becomeAnonymous();
      expect((await login(tx, '  Mixed.CASE@Example.test ', PASSWORD)).status).toBe('ok');
      await tx.becomeRoot();
      const { rows } = await tx.query('select last_login_at = now() as just_now from lms_public.users where id = $1', [user.id]);
      expect(rows[0].just_now).toBe(true);
    }));

  it('answers invalid_credentials, and nothing more, for an unknown email and for a wrong password', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      const empty = { user_id: null, role: null, session_id: null, refresh_token: null, refresh_expires_at: null };
      expect(await login(tx, 'nobody@example.test', PASSWORD)).toEqual({ status: 'invalid_credentials', ...empty });
      expect(await login(tx, user.email, 'wrong password!')).toEqual({ status: 'invalid_credentials', ...empty });
      expect(await login(tx, user.email, '')).toEqual({ status: 'invalid_credentials', ...empty });
      await tx.becomeRoot();
      const tokens = await tx.query('select count(*)::int as n from lms_private.refresh_tokens where user_id = $1', [user.id]);
      expect(tokens.rows[0].n).toBe(0);
      const last = await tx.query('select last_login_at from lms_public.users where id = $1', [user.id]);
      expect(last.rows[0].last_login_at).toBeNull();
    }));

  it('answers account_disabled to a deactivated user with the right password, invalid_credentials with a wrong one', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.query('update lms_public.users set is_active = false where id = $1', [user.id]);
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, PASSWORD)).status).toBe('account_disabled');
      expect((await login(tx, user.email, 'wrong password!')).status).toBe('invalid_credentials');
      await tx.becomeRoot();
      const tokens = await tx.query('select count(*)::int as n from lms_private.refresh_tokens where user_id = $1', [user.id]);
      expect(tokens.rows[0].n).toBe(0);
    }));

  it('is executable by every visitor role but not by the bare authenticator', async () => {
    const client = await db.auth.connect();
    try {
      await expect(client.query("select * from lms_private.login('x@example.test', 'whatever', null, '1 day', '1 day')")).rejects.toMatchObject({
        code: '42501',
      });
    } finally {
      client.release();
    }
  });
});

describe('lockout, within one transaction', () => {
  it('locks after 5 failures: the 6th attempt, with the RIGHT password, is locked', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      for (let i = 0; i < 5; i++) expect((await login(tx, user.email, `wrong password ${i}`)).status).toBe('invalid_credentials');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('locked');
      await tx.becomeRoot();
      const lock = await tx.query(
        "select locked_until between now() + interval '14 minutes' and now() + interval '15 minutes' as fifteen from lms_private.user_lockouts where user_id = $1",
        [user.id],
      );
      expect(lock.rows).toEqual([{ fifteen: true }]);
    }));

  it('4 failures do not lock', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      for (let i = 0; i < 4; i++) await login(tx, user.email, 'wrong password!');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('ok');
    }));

  it('failures older than 15 minutes do not count', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      // The log is append-only, so old failures are written with an old timestamp rather than moved.
      await tx.query(
        `insert into lms_private.security_events (occurred_at, event_type, user_id, details)
         select now() - interval '16 minutes', 'login_failed', $1, '{"reason": "wrong_password"}' from generate_series(1, 5)`,
        [user.id],
      );
      await tx.becomeAnonymous();
      for (let i = 0; i < 4; i++) await login(tx, user.email, 'wrong password!');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('ok');
    }));

  it('failures 14 minutes old do count', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.query(
        `insert into lms_private.security_events (occurred_at, event_type, user_id, details)
         select now() - interval '14 minutes', 'login_failed', $1, '{"reason": "wrong_password"}' from generate_series(1, 4)`,
        [user.id],
      );
      await tx.becomeAnonymous();
      await login(tx, user.email, 'wrong password!');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('locked');
    }));

  it('a locked account opens again once locked_until has passed', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      for (let i = 0; i < 5; i++) await login(tx, user.email, 'wrong password!');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('locked');
      await tx.becomeRoot();
      await tx.query("update lms_private.user_lockouts set locked_until = now() - interval '1 second' where user_id = $1", [user.id]);
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, PASSWORD)).status).toBe('ok');
      await tx.becomeRoot();
      // A successful login clears the lock.
      expect((await tx.query('select 1 from lms_private.user_lockouts where user_id = $1', [user.id])).rowCount).toBe(0);
    }));

  it('a locked account refuses even a correct password without recording a new failure', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      for (let i = 0; i < 5; i++) await login(tx, user.email, 'wrong password!');
      expect((await login(tx, user.email, 'wrong again!!')).status).toBe('locked');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('locked');
      await tx.becomeRoot();
      expect((await eventsOf(tx, user.id, 'login_failed')).length).toBe(5);
      expect((await eventsOf(tx, user.id, 'login_refused_locked')).length).toBe(2);
    }));

  it('failures for one account do not lock another', () =>
    db.transaction(async (tx) => {
      const victim = await insertUser(tx.client);
      const bystander = await insertUser(tx.client);
      await tx.becomeAnonymous();
      for (let i = 0; i < 6; i++) await login(tx, victim.email, 'wrong password!');
      expect((await login(tx, bystander.email, PASSWORD)).status).toBe('ok');
    }));
});

describe('lockout, each login in its own committed transaction', () => {
  const attempt = (email: string, password: string) => committedAs(db.auth, { role: 'lms_anonymous' }, (c) => login(c, email, password), FAST_BCRYPT);

  it('failures persist although each call returned normally: 5 committed failures lock the account', async () => {
    const user = await insertUser(db.root, { email: `persist-${Date.now()}@example.test` });
    for (let i = 0; i < 5; i++) expect((await attempt(user.email, `wrong password ${i}`)).status).toBe('invalid_credentials');
    expect((await attempt(user.email, PASSWORD)).status).toBe('locked');

    const failed = await eventsOf(db.root, user.id, 'login_failed');
    expect(failed).toHaveLength(5);
    expect(failed.every((e) => e.details.reason === 'wrong_password')).toBe(true);
    const lock = await db.root.query('select 1 from lms_private.user_lockouts where user_id = $1 and locked_until > now()', [user.id]);
    expect(lock.rowCount).toBe(1);
  });

  it('failures before a successful login do not count afterwards', async () => {
    const user = await insertUser(db.root, { email: `reset-count-${Date.now()}@example.test` });
    for (let i = 0; i < 4; i++) await attempt(user.email, 'wrong password!');
    expect((await attempt(user.email, PASSWORD)).status).toBe('ok');
    // 8 failures within 15 minutes, but only 4 since the last success.
    for (let i = 0; i < 4; i++) await attempt(user.email, 'wrong password!');
    expect((await attempt(user.email, PASSWORD)).status).toBe('ok');
    // And counting starts again from there.
    for (let i = 0; i < 5; i++) await attempt(user.email, 'wrong password!');
    expect((await attempt(user.email, PASSWORD)).status).toBe('locked');
  });

  // Logins lock the user row, so overlapping attempts queue and each sees the failures before it.
  it('5 wrong-password logins fired at once all count, and lock the account', async () => {
    const user = await insertUser(db.root, { email: `overlap-${Date.now()}@example.test` });
    // Own clients: the pool holds only four.
    const clients = Array.from({ length: 5 }, () => new pg.Client({ connectionString: db.authUrl }));
    try {
      await Promise.all(clients.map((c) => c.connect()));
      const statuses = await Promise.all(
        clients.map(async (c) => {
          await c.query('begin');
          await c.query('set local role lms_anonymous');
          await fastBcrypt(c);
          const { status } = await login(c, user.email, 'wrong password!');
          await c.query('commit');
          return status;
        }),
      );
      expect(statuses).toEqual(Array(5).fill('invalid_credentials'));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    expect(await eventsOf(db.root, user.id, 'login_failed')).toHaveLength(5);
    expect((await attempt(user.email, PASSWORD)).status).toBe('locked');
  });

  // No user row to lock for an unknown email: logins serialise on the email itself.
  it('5 logins to an unknown email fired at once all count, and lock it as an account would be', async () => {
    const email = `ghost-overlap-${Date.now()}@example.test`;
    const clients = Array.from({ length: 5 }, () => new pg.Client({ connectionString: db.authUrl }));
    try {
      await Promise.all(clients.map((c) => c.connect()));
      const statuses = await Promise.all(
        clients.map(async (c) => {
          await c.query('begin');
          await c.query('set local role lms_anonymous');
          await fastBcrypt(c);
          const { status } = await login(c, email, 'wrong password!');
          await c.query('commit');
          return status;
        }),
      );
      expect(statuses).toEqual(Array(5).fill('invalid_credentials'));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    expect((await attempt(email, PASSWORD)).status).toBe('locked');
  });

  it('an unknown email leaves a committed login_failed record with no user', async () => {
    const email = `ghost-${Date.now()}@example.test`;
    expect((await attempt(email, PASSWORD)).status).toBe('invalid_credentials');
    const { rows } = await db.root.query(
      "select user_id, details from lms_private.security_events where event_type = 'login_failed' and details->>'email' = $1",
      [email],
    );
    expect(rows).toEqual([{ user_id: null, details: { email, reason: 'unknown_email' } }]);
  });
});

describe('the session token', () => {
  it('its jti is the part before the dot, and two logins start two sessions', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      const a = await login(tx, user.email, PASSWORD);
      const b = await login(tx, user.email, PASSWORD);
      expect(a.session_id).not.toBe(b.session_id);
      expect(jtiOf(a.refresh_token!)).not.toBe(jtiOf(b.refresh_token!));
      await tx.becomeRoot();
      const { rows } = await tx.query('select token_jti from lms_private.refresh_tokens where user_id = $1 order by token_jti', [user.id]);
      expect(rows.map((r) => r.token_jti)).toEqual([jtiOf(a.refresh_token!), jtiOf(b.refresh_token!)].sort());
    }));

  it('never outlives the session: a ttl longer than the session maximum is capped', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      const grant = await login(tx, user.email, PASSWORD, { ttl: '30 days', sessionMax: '1 hour' });
      await tx.becomeRoot();
      const { rows } = await tx.query('select expires_at = session_expires_at as capped from lms_private.refresh_tokens where token_jti = $1', [
        jtiOf(grant.refresh_token!),
      ]);
      expect(rows[0].capped).toBe(true);
    }));
});

describe('lockout per email and client IP (lms.client_ip)', () => {
  const from = (tx: Transaction, ip: string) => tx.query("select set_config('lms.client_ip', $1, true)", [ip]);
  const empty = { user_id: null, role: null, session_id: null, refresh_token: null, refresh_expires_at: null };

  it('after 5 failures from one IP, a known and an unknown email answer exactly the same: locked', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const ghost = `ghost-${Date.now()}@example.test`;
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      await from(tx, '203.0.113.10');
      for (let i = 0; i < 5; i++) {
        expect(await login(tx, user.email, `wrong password ${i}`)).toEqual({ status: 'invalid_credentials', ...empty });
        expect(await login(tx, ghost, `wrong password ${i}`)).toEqual({ status: 'invalid_credentials', ...empty });
      }
      expect(await login(tx, user.email, PASSWORD)).toEqual({ status: 'locked', ...empty });
      expect(await login(tx, ghost, PASSWORD)).toEqual({ status: 'locked', ...empty });
      // Whatever the case and spacing the email is typed in.
      expect(await login(tx, `  ${ghost.toUpperCase()} `, PASSWORD)).toEqual({ status: 'locked', ...empty });
      await tx.becomeRoot();
      const { rows } = await tx.query(
        "select email, host(client_ip) as ip, user_id from lms_private.user_lockouts where client_ip = '203.0.113.10' order by user_id nulls first",
      );
      expect(rows).toEqual([
        { email: ghost, ip: '203.0.113.10', user_id: null },
        { email: user.email, ip: '203.0.113.10', user_id: user.id },
      ]);
    }));

  it('the owner signing in from another IP is unaffected, and does not lift the lock of the first', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      await from(tx, '203.0.113.20');
      for (let i = 0; i < 5; i++) await login(tx, user.email, 'wrong password!');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('locked');
      await from(tx, '2001:db8::20');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('ok');
      await from(tx, '203.0.113.20');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('locked');
    }));

  it('failures from different IPs do not add up: 4 from each of two IPs lock neither', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeAnonymous();
      for (const ip of ['203.0.113.30', '203.0.113.31']) {
        await from(tx, ip);
        for (let i = 0; i < 4; i++) await login(tx, user.email, 'wrong password!');
      }
      expect((await login(tx, user.email, PASSWORD)).status).toBe('ok');
      await from(tx, '203.0.113.30');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('ok');
    }));

  it('the ceiling: 100 failures within the hour from many IPs lock the email from every IP that has not signed in lately, known or not', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const ghost = `ghost-ceiling-${Date.now()}@example.test`;
      // The log is append-only: a distributed attack's failures and the owner's usual address are written as they would have been.
      for (const email of [user.email, ghost]) {
        await tx.query(
          `insert into lms_private.security_events (occurred_at, event_type, user_id, client_ip, details)
           select now() - interval '50 minutes', 'login_failed', u.id, ('198.51.100.' || i)::inet, jsonb_build_object('email', $1::text, 'reason', 'x')
           from generate_series(1, 99) i left join lms_public.users u on u.email = $1`,
          [email],
        );
      }
      await tx.query(
        "insert into lms_private.security_events (occurred_at, event_type, user_id, client_ip) values (now() - interval '3 days', 'login_succeeded', $1, '192.0.2.50')",
        [user.id],
      );
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      await from(tx, '203.0.113.40');
      // 99: below the ceiling; the 100th failure reaches it.
      expect((await login(tx, user.email, 'wrong password!')).status).toBe('invalid_credentials');
      expect((await login(tx, ghost, 'wrong password!')).status).toBe('invalid_credentials');
      await from(tx, '203.0.113.41');
      expect(await login(tx, user.email, PASSWORD)).toEqual({ status: 'locked', ...empty });
      expect(await login(tx, ghost, PASSWORD)).toEqual({ status: 'locked', ...empty });
      // The owner's usual address still signs in.
      await from(tx, '192.0.2.50');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('ok');
    }));

  it('failures older than the hour do not count toward the ceiling', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.query(
        `insert into lms_private.security_events (occurred_at, event_type, user_id, client_ip, details)
         select now() - interval '61 minutes', 'login_failed', $1, ('198.51.100.' || i)::inet, jsonb_build_object('email', $2::text, 'reason', 'x')
         from generate_series(1, 150) i`,
        [user.id, user.email],
      );
      await tx.becomeAnonymous();
      await from(tx, '203.0.113.50');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('ok');
    }));

  it("a signed-in user's wrong current passwords lock changePassword from that IP only", () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await fastBcrypt(tx);
      await tx.becomeUser(user);
      const change = async (current: string) =>
        (await tx.query('select lms_private.change_password($1, $2) as s', [current, 'a brand new password'])).rows[0].s;
      await from(tx, '203.0.113.60');
      for (let i = 0; i < 5; i++) expect(await change(`wrong guess ${i}`)).toBe('invalid_credentials');
      expect(await change(PASSWORD)).toBe('locked');
      await from(tx, '203.0.113.61');
      expect(await change(PASSWORD)).toBe('ok');
    }));
});
