import { createTestDatabase, type TestDatabase } from '../../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  // Test-only actions with a one-day window, so that no window boundary falls inside a test.
  await db.root.query(`insert into lms_private.rate_limits (action, max_hits, per) values
    ('test_three', 3, '1 day'), ('test_keys', 2, '1 day'), ('test_dup', 3, '1 day'), ('test_first', 1, '1 day'),
    ('test_second', 1, '1 day'), ('test_window', 1, '1 day')`);
});
afterAll(() => db.close());

/** As the API does it: on the authenticator's own connection, before any role switch, autocommitted. */
async function consume(actions: string[], clientKey: string): Promise<string | null> {
  const { rows } = await db.auth.query<{ over: string | null }>('select lms_private.consume_rate_limit($1, $2) as over', [actions, clientKey]);
  return rows[0]!.over;
}

async function hits(action: string, clientKey: string): Promise<number> {
  const { rows } = await db.root.query('select coalesce(sum(hits), 0)::int as n from lms_private.rate_limit_hits where action = $1 and client_key = $2', [
    action,
    clientKey,
  ]);
  return rows[0].n;
}

describe('lms_private.consume_rate_limit, as lms_authenticator', () => {
  it('returns null up to max_hits, then the action name; every attempt counts', async () => {
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await consume(['test_three'], '198.51.100.1'));
    expect(results).toEqual([null, null, null, 'test_three', 'test_three']);
    expect(await hits('test_three', '198.51.100.1')).toBe(5);
  });

  it('counts each client key separately', async () => {
    expect(await consume(['test_keys'], '198.51.100.2')).toBeNull();
    expect(await consume(['test_keys'], '198.51.100.2')).toBeNull();
    expect(await consume(['test_keys'], '198.51.100.2')).toBe('test_keys');
    expect(await consume(['test_keys'], '198.51.100.3')).toBeNull();
    expect(await consume(['test_keys'], '198.51.100.3')).toBeNull();
    expect(await consume(['test_keys'], '198.51.100.3')).toBe('test_keys');
  });

  it('an action named twice in one call counts twice', async () => {
    expect(await consume(['test_dup', 'test_dup'], '198.51.100.4')).toBeNull();
    expect(await hits('test_dup', '198.51.100.4')).toBe(2);
    expect(await consume(['test_dup', 'test_dup'], '198.51.100.4')).toBe('test_dup');
  });

  it('returns the action that went over, and ignores actions without a limit', async () => {
    expect(await consume(['test_first', 'test_second', 'not_limited'], '198.51.100.5')).toBeNull();
    expect(await consume(['not_limited', 'test_second'], '198.51.100.5')).toBe('test_second');
    expect(await consume(['test_first'], '198.51.100.5')).toBe('test_first');
    expect(await consume(['not_limited'], '198.51.100.5')).toBeNull();
    const { rows } = await db.root.query("select count(*)::int as n from lms_private.rate_limit_hits where action = 'not_limited'");
    expect(rows[0].n).toBe(0);
  });

  it('a new window starts from zero', async () => {
    expect(await consume(['test_window'], '198.51.100.6')).toBeNull();
    expect(await consume(['test_window'], '198.51.100.6')).toBe('test_window');
    // The window that counted those hits is now the previous day's.
    await db.root.query("update lms_private.rate_limit_hits set window_start = window_start - interval '1 day' where action = 'test_window'");
    expect(await consume(['test_window'], '198.51.100.6')).toBeNull();
  });

  it('the shipped limit on register: 10 an hour per client', async () => {
    const results = [];
    for (let i = 0; i < 11; i++) results.push(await consume(['register'], '198.51.100.7'));
    expect(results).toEqual([...Array(10).fill(null), 'register']);
  });

  it('no visitor role may call it (42501)', async () => {
    for (const role of ['lms_anonymous', 'lms_student', 'lms_admin']) {
      const client = await db.auth.connect();
      try {
        await client.query('begin');
        await client.query(`set local role ${role}`);
        await expect(client.query("select lms_private.consume_rate_limit(array['register'], 'x')")).rejects.toMatchObject({ code: '42501' });
      } finally {
        await client.query('rollback');
        client.release();
      }
    }
  });
});
