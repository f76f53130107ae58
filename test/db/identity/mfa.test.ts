import { generateSecret } from 'otplib';
import { createTestDatabase, type TestDatabase, type TestUser, type Transaction, committedAs, expectCode } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';
import { FAST_BCRYPT, codeAt, dbStep, eventsOf, login, PASSWORD, raceBehindLock, wrongCode } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

// RFC 6238 appendix B, SHA-1 seed "12345678901234567890"; the 6-digit code is the last six of the 8-digit one.
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const RFC_VECTORS: [seconds: number, code: string][] = [
  [59, '287082'],
  [1111111109, '081804'],
  [1111111111, '050471'],
  [1234567890, '005924'],
  [2000000000, '279037'],
  [20000000000, '353130'],
];

async function sqlCode(tx: Transaction, secret: string, step: number): Promise<string> {
  return (await tx.query<{ code: string }>('select lms_private.totp_code($1, $2) as code', [secret, step])).rows[0]!.code;
}

/** Enrolls and confirms MFA as the user, the way the API does; returns the recovery codes. */
async function enableMfa(tx: Transaction, user: TestUser, secret: string): Promise<string[]> {
  await tx.becomeUser(user);
  await tx.query('select lms_private.begin_mfa_enrollment($1)', [secret]);
  const code = await codeAt(secret, await dbStep(tx));
  const { rows } = await tx.query<{ codes: string[] }>('select lms_private.confirm_mfa($1) as codes', [code]);
  return rows[0]!.codes;
}

/** A code the login will accept: the step after the last one used (still within the one-step drift). */
async function nextCode(tx: Transaction, userId: string, secret: string): Promise<string> {
  await tx.becomeRoot();
  const { rows } = await tx.query<{ last: string }>('select last_used_step as last from lms_private.user_mfa where user_id = $1', [userId]);
  return codeAt(secret, Number(rows[0]!.last) + 1);
}

describe('TOTP in SQL agrees with RFC 6238 and otplib', () => {
  it.each(RFC_VECTORS)('RFC 6238 vector at %i s is %s, in SQL and in otplib', (seconds, code) =>
    db.transaction(async (tx) => {
      expect(await sqlCode(tx, RFC_SECRET, Math.floor(seconds / 30))).toBe(code);
      expect(await codeAt(RFC_SECRET, Math.floor(seconds / 30))).toBe(code);
    }),
  );

  it('matches otplib for random secrets over many steps, and ignores case, spaces and padding in the secret', () =>
    db.transaction(async (tx) => {
      const now = await dbStep(tx);
      const steps = [0, 1, 2, 1000, 37037036, 41152263, 2 ** 31 + 5, now - 1, now, now + 1];
      for (const length of [16, 20, 26, 32, 64]) {
        const secret = generateSecret({ length });
        for (const step of steps) expect(await sqlCode(tx, secret, step)).toBe(await codeAt(secret, step));
      }
      const secret = generateSecret({ length: 16 });
      const spaced = secret.toLowerCase().replace(/(.{4})/g, '$1 ');
      expect(await sqlCode(tx, `${spaced}===`, now)).toBe(await codeAt(secret, now));
    }));

  it('refuses a secret that is not base32 (INVAL)', () =>
    db.transaction(async (tx) => {
      await expectCode(tx, 'select lms_private.totp_code($1, 1)', ['NOT-BASE32!'], 'INVAL');
      await expectCode(tx, 'select lms_private.totp_code($1, 1)', ['ABCDEF018'], 'INVAL');
    }));
});

describe('enrollment: begin_mfa_enrollment and confirm_mfa, as the user', () => {
  it('begin stores a pending secret and returns the email; MFA is not on until confirmed', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const secret = generateSecret();
      await tx.becomeUser(user);
      expect((await tx.query('select lms_private.begin_mfa_enrollment($1) as email', [secret])).rows[0].email).toBe(user.email);
      await tx.becomeRoot();
      const { rows } = await tx.query(
        'select m.secret, m.pending_secret, u.mfa_enabled from lms_private.user_mfa m join lms_public.users u on u.id = m.user_id where m.user_id = $1',
        [user.id],
      );
      expect(rows).toEqual([{ secret: null, pending_secret: secret, mfa_enabled: false }]);
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, PASSWORD)).status).toBe('ok');
    }));

  it('confirm refuses a wrong code (MFABD) and keeps MFA off', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const secret = generateSecret();
      await tx.becomeUser(user);
      await tx.query('select lms_private.begin_mfa_enrollment($1)', [secret]);
      const wrong = await wrongCode(secret, await dbStep(tx));
      for (const code of [wrong, '', null, 'abcdef', '1234567']) await expectCode(tx, 'select lms_private.confirm_mfa($1)', [code], 'MFABD');
      // A code three steps old is outside the one-step window.
      await expectCode(tx, 'select lms_private.confirm_mfa($1)', [await codeAt(secret, (await dbStep(tx)) - 3)], 'MFABD');
      expect((await tx.query('select mfa_enabled from lms_public.users where id = $1', [user.id])).rows[0].mfa_enabled).toBe(false);
    }));

  it('confirm turns MFA on and returns ten distinct recovery codes, stored only as hashes', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const secret = generateSecret();
      const codes = await enableMfa(tx, user, secret);
      expect(codes).toHaveLength(10);
      expect(new Set(codes).size).toBe(10);
      for (const code of codes) expect(code).toMatch(/^[0-9a-f]{5}-[0-9a-f]{5}$/);
      expect((await tx.query('select mfa_enabled from lms_public.users where id = $1', [user.id])).rows[0].mfa_enabled).toBe(true);

      await tx.becomeRoot();
      const mfa = await tx.query('select secret, pending_secret, confirmed_at is not null as confirmed from lms_private.user_mfa where user_id = $1', [
        user.id,
      ]);
      expect(mfa.rows).toEqual([{ secret, pending_secret: null, confirmed: true }]);
      const stored = await tx.query<{ hashes: number; plain: number }>(
        `select count(*) filter (where code_hash = any(select digest(c, 'sha256') from unnest($2::text[]) c))::int as hashes,
                count(*) filter (where position(convert_to(c2, 'UTF8') in code_hash) > 0)::int as plain
         from lms_private.mfa_recovery_codes, unnest($2::text[]) c2 where user_id = $1`,
        [user.id, codes],
      );
      expect(stored.rows[0]).toEqual({ hashes: 100, plain: 0 });
    }));

  it('confirm without a pending enrollment is INVAL; begin while MFA is on is MFAON', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeUser(user);
      await expectCode(tx, 'select lms_private.confirm_mfa($1)', ['123456'], 'INVAL');
      await enableMfa(tx, user, generateSecret());
      await expectCode(tx, 'select lms_private.begin_mfa_enrollment($1)', [generateSecret()], 'MFAON');
      await expectCode(tx, 'select lms_private.confirm_mfa($1)', ['123456'], 'INVAL');
    }));

  it('begin refuses a secret that is not base32 (INVAL)', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeUser(user);
      await expectCode(tx, 'select lms_private.begin_mfa_enrollment($1)', ['not base32 at all!'], 'INVAL');
    }));

  it('anonymous may neither begin, confirm nor disable (NOAUT)', () =>
    db.transaction(async (tx) => {
      await tx.becomeAnonymous();
      await expectCode(tx, 'select lms_private.begin_mfa_enrollment($1)', [generateSecret()], 'NOAUT');
      await expectCode(tx, 'select lms_private.confirm_mfa($1)', ['123456'], 'NOAUT');
      await expectCode(tx, 'select lms_private.disable_mfa($1)', ['123456'], 'NOAUT');
    }));
});

describe('login with MFA on', () => {
  it('without a code: mfa_required, which is not a failure and never locks', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const secret = generateSecret();
      await enableMfa(tx, user, secret);
      await tx.becomeAnonymous();
      for (let i = 0; i < 6; i++) expect((await login(tx, user.email, PASSWORD, { mfaCode: i % 2 ? '' : null })).status).toBe('mfa_required');
      const code = await nextCode(tx, user.id, secret);
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, PASSWORD, { mfaCode: code })).status).toBe('ok');
      await tx.becomeRoot();
      expect(await eventsOf(tx, user.id, 'login_failed')).toEqual([]);
    }));

  it('asks for the code only after the password checks out', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await enableMfa(tx, user, generateSecret());
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, 'wrong password!')).status).toBe('invalid_credentials');
    }));

  it('a wrong code is invalid_mfa_code and counts toward the lockout', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const secret = generateSecret();
      await enableMfa(tx, user, secret);
      const wrong = await wrongCode(secret, await dbStep(tx));
      await tx.becomeAnonymous();
      for (let i = 0; i < 5; i++) expect((await login(tx, user.email, PASSWORD, { mfaCode: wrong })).status).toBe('invalid_mfa_code');
      const code = await nextCode(tx, user.id, secret);
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, PASSWORD, { mfaCode: code })).status).toBe('locked');
      await tx.becomeRoot();
      const failed = await eventsOf(tx, user.id, 'login_failed');
      expect(failed.map((e) => e.details.reason)).toEqual(Array(5).fill('wrong_mfa_code'));
      expect(await eventsOf(tx, user.id, 'account_locked')).toHaveLength(1);
    }));

  it('a valid code works once: the same code again is invalid_mfa_code (no replay)', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const secret = generateSecret();
      await enableMfa(tx, user, secret);
      const code = await nextCode(tx, user.id, secret);
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, PASSWORD, { mfaCode: code })).status).toBe('ok');
      expect((await login(tx, user.email, PASSWORD, { mfaCode: code })).status).toBe('invalid_mfa_code');
      expect((await login(tx, user.email, PASSWORD, { mfaCode: ` ${code} ` })).status).toBe('invalid_mfa_code');
    }));

  it('the code used to confirm cannot log in, nor can an earlier one', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const secret = generateSecret();
      await enableMfa(tx, user, secret);
      await tx.becomeRoot();
      const last = Number((await tx.query('select last_used_step from lms_private.user_mfa where user_id = $1', [user.id])).rows[0].last_used_step);
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, PASSWORD, { mfaCode: await codeAt(secret, last) })).status).toBe('invalid_mfa_code');
      expect((await login(tx, user.email, PASSWORD, { mfaCode: await codeAt(secret, last - 1) })).status).toBe('invalid_mfa_code');
    }));

  it('a recovery code works once, in any case', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const codes = await enableMfa(tx, user, generateSecret());
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, PASSWORD, { mfaCode: codes[0]!.toUpperCase() })).status).toBe('ok');
      expect((await login(tx, user.email, PASSWORD, { mfaCode: codes[0] })).status).toBe('invalid_mfa_code');
      expect((await login(tx, user.email, PASSWORD, { mfaCode: codes[1] })).status).toBe('ok');
      await tx.becomeRoot();
      const used = await tx.query('select count(*)::int as n from lms_private.mfa_recovery_codes where user_id = $1 and used_at is not null', [user.id]);
      expect(used.rows[0].n).toBe(2);
      expect(await eventsOf(tx, user.id, 'mfa_recovery_code_used')).toHaveLength(2);
    }));

  it("another user's recovery code is refused", () =>
    db.transaction(async (tx) => {
      const alice = await insertUser(tx.client);
      const bob = await insertUser(tx.client);
      const aliceCodes = await enableMfa(tx, alice, generateSecret());
      await tx.becomeRoot();
      await enableMfa(tx, bob, generateSecret());
      await tx.becomeAnonymous();
      expect((await login(tx, bob.email, PASSWORD, { mfaCode: aliceCodes[0] })).status).toBe('invalid_mfa_code');
    }));
});

describe('lms_private.disable_mfa, as the user', () => {
  const disable = async (tx: { query: (sql: string, params?: unknown[]) => Promise<{ rows: any[] }> }, code: string | null) =>
    (await tx.query('select lms_private.disable_mfa($1) as s', [code])).rows[0].s;

  it('answers mfa_off when MFA is off', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      await tx.becomeUser(user);
      expect(await disable(tx, '123456')).toBe('mfa_off');
    }));

  it('answers invalid_mfa_code for a wrong or missing code, records it, and keeps MFA on', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const secret = generateSecret();
      await enableMfa(tx, user, secret);
      expect(await disable(tx, await wrongCode(secret, await dbStep(tx)))).toBe('invalid_mfa_code');
      expect(await disable(tx, null)).toBe('invalid_mfa_code');
      expect((await tx.query('select mfa_enabled from lms_public.users where id = $1', [user.id])).rows[0].mfa_enabled).toBe(true);
      await tx.becomeRoot();
      const failures = await tx.query(
        "select details->>'reason' as reason from lms_private.security_events where user_id = $1 and event_type = 'login_failed'",
        [user.id],
      );
      expect(failures.rows).toEqual([{ reason: 'wrong_mfa_code' }, { reason: 'wrong_mfa_code' }]);
    }));

  it('with a valid code, turns MFA off and deletes the secret and recovery codes', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const secret = generateSecret();
      await enableMfa(tx, user, secret);
      const code = await nextCode(tx, user.id, secret);
      await tx.becomeUser(user);
      expect(await disable(tx, code)).toBe('ok');
      expect((await tx.query('select mfa_enabled from lms_public.users where id = $1', [user.id])).rows[0].mfa_enabled).toBe(false);
      await tx.becomeRoot();
      expect((await tx.query('select 1 from lms_private.user_mfa where user_id = $1', [user.id])).rowCount).toBe(0);
      expect((await tx.query('select 1 from lms_private.mfa_recovery_codes where user_id = $1', [user.id])).rowCount).toBe(0);
      await tx.becomeAnonymous();
      expect((await login(tx, user.email, PASSWORD)).status).toBe('ok');
    }));

  it('accepts a recovery code', () =>
    db.transaction(async (tx) => {
      const user = await insertUser(tx.client);
      const codes = await enableMfa(tx, user, generateSecret());
      expect(await disable(tx, codes[3]!.toUpperCase().replace('-', ' '))).toBe('ok');
    }));
});

describe('one code, two concurrent logins (committed, on separate connections)', () => {
  /** A committed user with MFA on, through the real functions. */
  async function committedMfaUser(label: string) {
    const user = await insertUser(db.root, { email: `${label}-${Date.now()}@example.test` });
    const secret = generateSecret();
    const codes = await committedAs(
      db.auth,
      { role: 'lms_student', userId: user.id },
      async (c) => {
        await c.query('select lms_private.begin_mfa_enrollment($1)', [secret]);
        const code = await codeAt(secret, await dbStep(c));
        return (await c.query<{ codes: string[] }>('select lms_private.confirm_mfa($1) as codes', [code])).rows[0]!.codes;
      },
      FAST_BCRYPT,
    );
    const { rows } = await db.root.query('select last_used_step from lms_private.user_mfa where user_id = $1', [user.id]);
    return { user, secret, codes, lastStep: Number(rows[0].last_used_step) };
  }

  const race = (userId: string, email: string, code: string) =>
    raceBehindLock(db, { sql: 'select 1 from lms_private.user_mfa where user_id = $1 for update', params: [userId] }, 'lms_anonymous', [
      (c) => login(c, email, PASSWORD, { mfaCode: code }),
      (c) => login(c, email, PASSWORD, { mfaCode: code }),
    ]);

  it('a TOTP code: exactly one login succeeds', async () => {
    const { user, secret, lastStep } = await committedMfaUser('totp-race');
    const outcomes = await race(user.id, user.email, await codeAt(secret, lastStep + 1));
    expect(outcomes.map((o) => ('value' in o ? o.value.status : o.error.message)).sort()).toEqual(['invalid_mfa_code', 'ok']);
    const live = await db.root.query('select count(*)::int as n from lms_private.refresh_tokens where user_id = $1', [user.id]);
    expect(live.rows[0].n).toBe(1);
  });

  it('a recovery code: exactly one login succeeds', async () => {
    const { user, codes } = await committedMfaUser('recovery-race');
    const outcomes = await race(user.id, user.email, codes[0]!);
    expect(outcomes.map((o) => ('value' in o ? o.value.status : o.error.message)).sort()).toEqual(['invalid_mfa_code', 'ok']);
  });
});
