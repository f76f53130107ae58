import { createTestDatabase, type TestDatabase, type Transaction, expectCode } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';
import { fastBcrypt, jobsFor, login, PASSWORD, raceBehindLock } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

type Purpose = 'verify_email' | 'reset_password';

/** What the worker does: mint a token as the owner (root here). */
async function issue(tx: Transaction, userId: string, purpose: Purpose): Promise<string> {
  await tx.becomeRoot();
  const { rows } = await tx.query<{ token: string }>('select * from lms_private.issue_email_token($1, $2)', [userId, purpose]);
  expect(rows).toHaveLength(1);
  return rows[0]!.token;
}

describe('lms_private.issue_email_token', () => {
  it('returns the token once, with the address and name; only its SHA-256 is stored', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client, { email: 'issue@example.test', fullName: 'Issue Me' });
      const { rows } = await tx.query('select * from lms_private.issue_email_token($1, $2)', [user.id, 'verify_email']);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ email: 'issue@example.test', full_name: 'Issue Me' });
      const token: string = rows[0].token;
      // 32 random bytes, URL-safe base64 without padding.
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const stored = await tx.query(
        `select token_hash = digest($2, 'sha256') as hashed, position($2 in t::text) = 0 as absent
         from lms_private.email_tokens t where user_id = $1`,
        [user.id, token],
      );
      expect(stored.rows).toEqual([{ hashed: true, absent: true }]);
    }));

  it('gives verification tokens 24 hours and reset tokens 1 hour', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await issue(tx, user.id, 'verify_email');
      await issue(tx, user.id, 'reset_password');
      const { rows } = await tx.query(
        'select purpose, extract(epoch from expires_at - now())::int as lifetime from lms_private.email_tokens where user_id = $1 order by purpose',
        [user.id],
      );
      expect(rows.map((r) => [r.purpose, r.lifetime])).toEqual([
        ['reset_password', 3600],
        ['verify_email', 24 * 3600],
      ]);
    }));

  it('a new token supersedes the unused one of the same purpose, not the other purpose', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const oldVerify = await issue(tx, user.id, 'verify_email');
      const reset = await issue(tx, user.id, 'reset_password');
      const newVerify = await issue(tx, user.id, 'verify_email');
      await tx.becomeAnonymous();
      await expectCode(tx, 'select lms_public.verify_email($1)', [oldVerify], 'TKEXP');
      expect((await tx.query('select lms_public.verify_email($1) as ok', [newVerify])).rows[0].ok).toBe(true);
      await fastBcrypt(tx);
      expect((await tx.query('select lms_public.reset_password($1, $2) as ok', [reset, 'a brand new password'])).rows[0].ok).toBe(true);
    }));

  it('mints nothing for a verified address (verify_email) or a deactivated user', () =>
    db.transaction(async (tx) => {
      const verified = await insertUser(tx.client);
      const inactive = await insertUser(tx.client);
      await tx.query('update lms_public.users set email_verified_at = now() where id = $1', [verified.id]);
      await tx.query('update lms_public.users set is_active = false where id = $1', [inactive.id]);
      const none = async (id: string, purpose: Purpose) => (await tx.query('select * from lms_private.issue_email_token($1, $2)', [id, purpose])).rowCount;
      expect(await none(verified.id, 'verify_email')).toBe(0);
      expect(await none(inactive.id, 'verify_email')).toBe(0);
      expect(await none(inactive.id, 'reset_password')).toBe(0);
      expect(await none(verified.id, 'reset_password')).toBe(1);
    }));

  it('no visitor role may mint or spend tokens directly (42501)', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      for (const who of [() => tx.becomeAnonymous(), () => tx.becomeUser(user)]) {
        await who();
        await expectCode(tx, 'select * from lms_private.issue_email_token($1, $2)', [user.id, 'reset_password'], '42501');
        await expectCode(tx, 'select lms_private.use_email_token($1, $2)', ['x', 'reset_password'], '42501');
        await expectCode(tx, 'select * from lms_private.email_tokens', [], '42501');
      }
    }));
});

describe('lms_public.verify_email, as lms_anonymous', () => {
  it('sets email_verified_at; the token works once (TKEXP the second time)', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const token = await issue(tx, user.id, 'verify_email');
      await tx.becomeAnonymous();
      expect((await tx.query('select lms_public.verify_email($1) as ok', [token])).rows[0].ok).toBe(true);
      await expectCode(tx, 'select lms_public.verify_email($1)', [token], 'TKEXP');
      await tx.becomeRoot();
      const { rows } = await tx.query('select email_verified_at = now() as verified from lms_public.users where id = $1', [user.id]);
      expect(rows[0].verified).toBe(true);
    }));

  it('refuses an expired token (TKEXP) and leaves the address unverified', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const token = await issue(tx, user.id, 'verify_email');
      await tx.query("update lms_private.email_tokens set expires_at = now() - interval '1 second' where user_id = $1", [user.id]);
      await tx.becomeAnonymous();
      await expectCode(tx, 'select lms_public.verify_email($1)', [token], 'TKEXP');
      await tx.becomeRoot();
      const { rows } = await tx.query('select email_verified_at from lms_public.users where id = $1', [user.id]);
      expect(rows[0].email_verified_at).toBeNull();
    }));

  it('refuses unknown tokens and tokens of the other purpose (TKEXP)', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const reset = await issue(tx, user.id, 'reset_password');
      await tx.becomeAnonymous();
      for (const token of ['', null, 'not-a-token', reset]) await expectCode(tx, 'select lms_public.verify_email($1)', [token], 'TKEXP');
    }));
});

describe('lms_public.request_password_reset, as lms_anonymous', () => {
  it('answers true for an unknown email and queues nothing', () =>
    db.transaction(async (tx) => {
      await tx.becomeAnonymous();
      expect((await tx.query('select lms_public.request_password_reset($1) as ok', ['nobody@example.test'])).rows[0].ok).toBe(true);
      expect((await tx.query('select lms_public.request_password_reset($1) as ok', ['not an email'])).rows[0].ok).toBe(true);
      await tx.becomeRoot();
      expect(await jobsFor(tx, 'users__send_password_reset_email')).toEqual([]);
    }));

  it('queues users__send_password_reset_email, with only the userId, for an active user (email in any case)', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client, { email: 'reset.me@example.test' });
      await tx.becomeAnonymous();
      expect((await tx.query('select lms_public.request_password_reset($1) as ok', ['  Reset.ME@example.test '])).rows[0].ok).toBe(true);
      await tx.becomeRoot();
      expect(await jobsFor(tx, 'users__send_password_reset_email')).toEqual([
        { key: `users__send_password_reset_email:${user.id}`, payload: { userId: user.id } },
      ]);
      // Nothing is minted until the worker runs.
      expect((await tx.query('select 1 from lms_private.email_tokens where user_id = $1', [user.id])).rowCount).toBe(0);
    }));

  it('answers true for a deactivated user and queues nothing', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.query('update lms_public.users set is_active = false where id = $1', [user.id]);
      await tx.becomeAnonymous();
      expect((await tx.query('select lms_public.request_password_reset($1) as ok', [user.email])).rows[0].ok).toBe(true);
      await tx.becomeRoot();
      expect(await jobsFor(tx, 'users__send_password_reset_email')).toEqual([]);
    }));
});

describe('lms_public.reset_password, as lms_anonymous', () => {
  it('sets the new password: login works with it and not with the old one', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const token = await issue(tx, user.id, 'reset_password');
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      expect((await tx.query('select lms_public.reset_password($1, $2) as ok', [token, 'a brand new password'])).rows[0].ok).toBe(true);
      expect((await login(tx, user.email, PASSWORD)).status).toBe('invalid_credentials');
      expect((await login(tx, user.email, 'a brand new password')).status).toBe('ok');
    }));

  it('revokes every refresh token of the user, as password_reset', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      await login(tx, user.email, PASSWORD);
      await login(tx, user.email, PASSWORD);
      const token = await issue(tx, user.id, 'reset_password');
      await tx.becomeAnonymous();
      await tx.query('select lms_public.reset_password($1, $2)', [token, 'a brand new password']);
      await tx.becomeRoot();
      const { rows } = await tx.query('select revoked_reason from lms_private.refresh_tokens where user_id = $1', [user.id]);
      expect(rows).toEqual([{ revoked_reason: 'password_reset' }, { revoked_reason: 'password_reset' }]);
    }));

  it('unlocks a locked account', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await fastBcrypt(tx);
      await tx.becomeAnonymous();
      for (let i = 0; i < 5; i++) await login(tx, user.email, 'wrong password!');
      expect((await login(tx, user.email, PASSWORD)).status).toBe('locked');
      const token = await issue(tx, user.id, 'reset_password');
      await tx.becomeAnonymous();
      await tx.query('select lms_public.reset_password($1, $2)', [token, 'a brand new password']);
      expect((await login(tx, user.email, 'a brand new password')).status).toBe('ok');
    }));

  it('works once (TKEXP), expires after 1 hour (TKEXP), and refuses verification tokens (TKEXP)', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await fastBcrypt(tx);
      const first = await issue(tx, user.id, 'reset_password');
      await tx.becomeAnonymous();
      await tx.query('select lms_public.reset_password($1, $2)', [first, 'a brand new password']);
      await expectCode(tx, 'select lms_public.reset_password($1, $2)', [first, 'another new password'], 'TKEXP');

      const second = await issue(tx, user.id, 'reset_password');
      // An hour and a second later.
      await tx.query(
        "update lms_private.email_tokens set created_at = now() - interval '1 hour 1 second', expires_at = now() - interval '1 second' where used_at is null and user_id = $1",
        [user.id],
      );
      await tx.becomeAnonymous();
      await expectCode(tx, 'select lms_public.reset_password($1, $2)', [second, 'another new password'], 'TKEXP');

      const verify = await issue(tx, user.id, 'verify_email');
      await tx.becomeAnonymous();
      await expectCode(tx, 'select lms_public.reset_password($1, $2)', [verify, 'another new password'], 'TKEXP');
      expect((await login(tx, user.email, 'a brand new password')).status).toBe('ok');
    }));

  it('refuses a weak new password (WEAKP) without spending the token', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await fastBcrypt(tx);
      const token = await issue(tx, user.id, 'reset_password');
      await tx.becomeAnonymous();
      await expectCode(tx, 'select lms_public.reset_password($1, $2)', [token, 'short'], 'WEAKP');
      expect((await tx.query('select lms_public.reset_password($1, $2) as ok', [token, 'a brand new password'])).rows[0].ok).toBe(true);
    }));
});

describe('lms_public.resend_verification_email', () => {
  it('queues a verification job for an unverified user, none for a verified one; anonymous gets NOAUT', () =>
    db.transaction(async (tx) => {
      const unverified = await insertUser(tx.client);
      const verified = await insertUser(tx.client);
      await tx.query('update lms_public.users set email_verified_at = now() where id = $1', [verified.id]);
      for (const user of [unverified, verified]) {
        await tx.becomeUser(user);
        expect((await tx.query('select lms_public.resend_verification_email() as ok')).rows[0].ok).toBe(true);
      }
      await tx.becomeRoot();
      expect(await jobsFor(tx, 'users__send_verification_email')).toEqual([
        { key: `users__send_verification_email:${unverified.id}`, payload: { userId: unverified.id } },
      ]);
      await tx.becomeAnonymous();
      await expectCode(tx, 'select lms_public.resend_verification_email()', [], 'NOAUT');
    }));
});

describe('one reset token, two concurrent resets (committed, on separate connections)', () => {
  it("exactly one succeeds; the other gets TKEXP; the winner's password is the one set", async () => {
    const user = await insertUser(db.root, { email: `reset-race-${Date.now()}@example.test` });
    const { rows } = await db.root.query('select token from lms_private.issue_email_token($1, $2)', [user.id, 'reset_password']);
    const token: string = rows[0].token;
    const outcomes = await raceBehindLock(
      db,
      { sql: "select 1 from lms_private.email_tokens where user_id = $1 and purpose = 'reset_password' for update", params: [user.id] },
      'lms_anonymous',
      ['first new password', 'second new password'].map((password) => async (c) => {
        await c.query('select lms_public.reset_password($1, $2)', [token, password]);
        return password;
      }),
    );
    const winners = outcomes.flatMap((o) => ('value' in o ? [o.value] : []));
    const losers = outcomes.flatMap((o) => ('error' in o ? [o.error.code] : []));
    expect(winners).toHaveLength(1);
    expect(losers).toEqual(['TKEXP']);
    const check = await db.root.query('select password_hash = crypt($2, password_hash) as matches from lms_private.user_passwords where user_id = $1', [
      user.id,
      winners[0],
    ]);
    expect(check.rows[0].matches).toBe(true);
  });
});
