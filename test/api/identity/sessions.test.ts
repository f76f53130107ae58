import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { Q, claimsOf, errorCode, expectGraphqlError, expectOk, liftRateLimits, newAccount, refresh, signIn, type GqlResult } from './helpers.ts';

let db: TestDatabase;
/** The default reuse interval: 10 seconds. */
let api: TestApi;
/** No reuse interval: any second use of a rotated token is reuse. */
let strict: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  await liftRateLimits(db);
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
  strict = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4', LMS_REFRESH_REUSE_INTERVAL_SECONDS: '0' } });
});
afterAll(async () => {
  await strict.close();
  await api.close();
  await db.close();
});

async function eventCount(userId: string, type: string): Promise<number> {
  const { rows } = await db.root.query('select count(*)::int as n from lms_private.security_events where user_id = $1 and event_type = $2', [userId, type]);
  return rows[0].n;
}

describe('refreshSession', () => {
  it('rotates: a new pair for the same session; the old token then answers TKROT and the new one keeps working', async () => {
    const user = await newAccount(api, 'rotate');
    const next = expectOk(await refresh(api, user.refreshToken)).refreshSession;
    expect(next.refreshToken).not.toBe(user.refreshToken);
    expect(claimsOf(next.accessToken)).toMatchObject({ sub: user.id, role: 'student', sid: claimsOf(user.accessToken).sid });
    expect(expectOk(await api.graphql(Q.me, { token: next.accessToken })).currentUser.rowId).toBe(user.id);

    expectGraphqlError(await refresh(api, user.refreshToken), 'TKROT');
    // TKROT revokes nothing: the newer token still rotates.
    const third = expectOk(await refresh(api, next.refreshToken)).refreshSession;
    expectOk(await refresh(api, third.refreshToken));
  });

  it('with no reuse interval, reusing a rotated token is TKRUS and ends every session; the new token is then TKEXP', async () => {
    const user = await newAccount(strict, 'reuse');
    const other = await signIn(strict, user.email);
    const next = expectOk(await refresh(strict, user.refreshToken)).refreshSession;
    expectGraphqlError(await refresh(strict, user.refreshToken), 'TKRUS');
    expectGraphqlError(await refresh(strict, next.refreshToken), 'TKEXP');
    expectGraphqlError(await refresh(strict, other.refreshToken), 'TKEXP');
    expect(await eventCount(user.id, 'refresh_token_reused')).toBe(1);
    // A fresh login is the way back in.
    const again = await signIn(strict, user.email);
    expectOk(await refresh(strict, again.refreshToken));
  });

  it('refuses an unknown, malformed or forged refresh token with TKEXP, and a forged one harms nothing', async () => {
    const user = await newAccount(api, 'forged');
    const [jti] = user.refreshToken.split('.');
    for (const token of ['', 'garbage', `${jti}`, `${jti}.${'0'.repeat(64)}`, `${'0'.repeat(32)}.${user.refreshToken.split('.')[1]}`]) {
      expectGraphqlError(await refresh(api, token), 'TKEXP');
    }
    expectOk(await refresh(api, user.refreshToken));
  });

  it('refuses an expired refresh token with TKEXP', async () => {
    const user = await newAccount(api, 'expired');
    const [jti] = user.refreshToken.split('.');
    await db.root.query("update lms_private.refresh_tokens set expires_at = now() - interval '1 second' where token_jti = $1", [jti]);
    expectGraphqlError(await refresh(api, user.refreshToken), 'TKEXP');
  });

  it('keeps refresh tokens out of the database in clear', async () => {
    const user = await newAccount(api, 'hashed');
    const [jti, secret] = user.refreshToken.split('.');
    const { rows } = await db.root.query('select t::text as row from lms_private.refresh_tokens t where token_jti = $1', [jti]);
    expect(rows).toHaveLength(1);
    expect(rows[0].row).not.toContain(secret);
  });
});

describe('concurrent refreshes of one token', () => {
  const both = (target: TestApi, token: string): Promise<GqlResult[]> => Promise.all([refresh(target, token), refresh(target, token)]);
  const split = (results: GqlResult[]) => {
    const winners = results.filter((r) => r.body.data?.refreshSession);
    const losers = results.filter((r) => !r.body.data?.refreshSession);
    expect({ winners: winners.length, losers: losers.length }).toEqual({ winners: 1, losers: 1 });
    return { winner: winners[0]!.body.data.refreshSession as { refreshToken: string }, loser: losers[0]! };
  };

  it('within the reuse interval: one wins, the other gets TKROT, and the winner keeps working (5 rounds)', async () => {
    const user = await newAccount(api, 'race');
    let token = user.refreshToken;
    for (let round = 0; round < 5; round++) {
      const { winner, loser } = split(await both(api, token));
      expect(errorCode(loser)).toBe('TKROT');
      token = winner.refreshToken;
    }
    expectOk(await refresh(api, token));
    expect(await eventCount(user.id, 'refresh_token_reused')).toBe(0);
  });

  it('with no reuse interval: one wins, the other gets TKRUS, and the winner is then dead too (5 rounds)', async () => {
    const user = await newAccount(strict, 'race-strict');
    for (let round = 0; round < 5; round++) {
      const session = round === 0 ? user : await signIn(strict, user.email);
      const { winner, loser } = split(await both(strict, session.refreshToken));
      expect(errorCode(loser)).toBe('TKRUS');
      expectGraphqlError(await refresh(strict, winner.refreshToken), 'TKEXP');
    }
  });
});

describe('logout', () => {
  it('ends one session: its refresh token is then TKEXP; other sessions continue', async () => {
    const user = await newAccount(api, 'logout');
    const second = await signIn(api, user.email);
    expect(expectOk(await api.graphql(Q.logout, { variables: { t: user.refreshToken } }))).toEqual({ logout: { success: true } });
    expectGraphqlError(await refresh(api, user.refreshToken), 'TKEXP');
    expectOk(await refresh(api, second.refreshToken));
  });

  it('always answers success, even for an unknown or already ended token', async () => {
    const user = await newAccount(api, 'logout-twice');
    for (const t of [user.refreshToken, user.refreshToken, 'nonsense', '']) {
      expect(expectOk(await api.graphql(Q.logout, { variables: { t } }))).toEqual({ logout: { success: true } });
    }
  });

  it('a forged token with a real id but a wrong secret does not end that session', async () => {
    const victim = await newAccount(api, 'victim');
    const [jti] = victim.refreshToken.split('.');
    expectOk(await api.graphql(Q.logout, { variables: { t: `${jti}.${'f'.repeat(64)}` } }));
    expectOk(await refresh(api, victim.refreshToken));
  });

  it('logoutEverywhere ends every session of the caller and none of anyone else', async () => {
    const user = await newAccount(api, 'everywhere');
    const second = await signIn(api, user.email);
    const bystander = await newAccount(api, 'bystander');
    expect(expectOk(await api.graphql(Q.logoutEverywhere, { token: user.accessToken }))).toEqual({ logoutEverywhere: { success: true } });
    expectGraphqlError(await refresh(api, user.refreshToken), 'TKEXP');
    expectGraphqlError(await refresh(api, second.refreshToken), 'TKEXP');
    expectOk(await refresh(api, bystander.refreshToken));
  });

  it('logoutEverywhere needs a signed-in user', async () => {
    const res = await api.graphql(Q.logoutEverywhere);
    expect(res.body.data?.logoutEverywhere ?? null).toBeNull();
    expect(['NOAUT', '42501']).toContain(errorCode(res));
  });
});
