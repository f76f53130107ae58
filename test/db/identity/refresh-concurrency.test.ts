import type pg from 'pg';
import { createTestDatabase, type TestDatabase, committedAs } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';
import { FAST_BCRYPT, jtiOf, login, PASSWORD, raceBehindLock, refresh, type SessionGrant } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const ROUNDS = 5;

/** Two API connections, each inside `begin; set local role lms_anonymous`, ready to refresh. */
async function twoRacers(): Promise<[pg.PoolClient, pg.PoolClient]> {
  const clients = await Promise.all([db.auth.connect(), db.auth.connect()]);
  for (const c of clients) {
    await c.query('begin');
    await c.query('set local role lms_anonymous');
  }
  return clients;
}

/** One refresh on a racer's connection, committed. */
async function refreshAndCommit(client: pg.PoolClient, token: string, reuseInterval: string): Promise<SessionGrant> {
  try {
    const { rows } = await client.query<SessionGrant>("select * from lms_private.refresh_session($1, $2::interval, '1 day')", [token, reuseInterval]);
    await client.query('commit');
    return rows[0]!;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

async function startSession(label: string) {
  const user = await insertUser(db.root, { email: `${label}-${Date.now()}-${Math.random().toString(16).slice(2)}@example.test` });
  const grant = await committedAs(db.auth, { role: 'lms_anonymous' }, (c) => login(c, user.email, PASSWORD), FAST_BCRYPT);
  expect(grant.status).toBe('ok');
  return { userId: user.id, token: grant.refresh_token!, sessionId: grant.session_id! };
}

async function sessionRows(sessionId: string) {
  const { rows } = await db.root.query<{ token_jti: string; revoked_reason: string | null; live: boolean }>(
    'select token_jti, revoked_reason, revoked_at is null as live from lms_private.refresh_tokens where session_id = $1',
    [sessionId],
  );
  return rows;
}

async function liveTokensOf(userId: string): Promise<number> {
  const { rows } = await db.root.query('select count(*)::int as n from lms_private.refresh_tokens where user_id = $1 and revoked_at is null', [userId]);
  return rows[0].n;
}

/** Both refreshes look the token up, then queue on its row lock, held by a third connection until both wait. */
async function lockedRace(token: string, reuseInterval: string): Promise<SessionGrant[]> {
  const call = (c: pg.PoolClient) => refresh(c, token, reuseInterval);
  const outcomes = await raceBehindLock(
    db,
    { sql: 'select 1 from lms_private.refresh_tokens where token_jti = $1 for update', params: [jtiOf(token)] },
    'lms_anonymous',
    [call, call],
  );
  return outcomes.map((o) => {
    if ('error' in o) throw new Error(`a refresh failed: ${o.error.message}`);
    return o.value;
  });
}

async function freeRace(token: string, reuseInterval: string): Promise<SessionGrant[]> {
  const [a, b] = await twoRacers();
  return Promise.all([refreshAndCommit(a, token, reuseInterval), refreshAndCommit(b, token, reuseInterval)]);
}

describe.each([
  ['held at the row lock', lockedRace],
  ['free-running', freeRace],
])('two concurrent refreshes with one token, %s', (_label, race) => {
  it("with a 10-second reuse interval: exactly one new token; the loser gets token_rotated; the winner's token stays live", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { userId, token, sessionId } = await startSession('rotated');
      const results = await race(token, '10 seconds');
      expect(results.map((r) => r.status).sort()).toEqual(['ok', 'token_rotated']);
      const winner = results.find((r) => r.status === 'ok')!;
      expect(winner.session_id).toBe(sessionId);

      const rows = await sessionRows(sessionId);
      expect(rows).toHaveLength(2);
      expect(rows.filter((r) => r.live).map((r) => r.token_jti)).toEqual([jtiOf(winner.refresh_token!)]);
      expect(rows.find((r) => r.token_jti === jtiOf(token))?.revoked_reason).toBe('rotated');
      expect(await liveTokensOf(userId)).toBe(1);
    }
  });

  it('with a zero reuse interval: exactly one new token is minted, the loser gets token_reused, and then no token of the user is live', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { userId, token, sessionId } = await startSession('reused');
      const results = await race(token, '0');
      expect(results.map((r) => r.status).sort()).toEqual(['ok', 'token_reused']);

      const rows = await sessionRows(sessionId);
      expect(rows).toHaveLength(2);
      const winner = results.find((r) => r.status === 'ok')!;
      expect(rows.find((r) => r.token_jti === jtiOf(winner.refresh_token!))?.revoked_reason).toBe('reuse');
      expect(await liveTokensOf(userId)).toBe(0);
    }
  });
});
