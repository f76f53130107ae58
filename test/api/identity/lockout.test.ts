import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { expectGraphqlError, liftRateLimits, login, newAccount, signIn, uniqueEmail } from './helpers.ts';

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  await liftRateLimits(db);
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
});
afterAll(async () => {
  await api.close();
  await db.close();
});

// Against account enumeration: a lock must not tell an existing account from a made-up email.
it('after 5 failures from this client, a known and an unknown email both answer LOCKD, with the same message', async () => {
  const user = await newAccount(api, 'lock-known');
  const ghost = uniqueEmail('lock-ghost');
  for (let i = 0; i < 5; i++) {
    expectGraphqlError(await login(api, user.email, `wrong password ${i}`), 'CREDS');
    expectGraphqlError(await login(api, ghost, `wrong password ${i}`), 'CREDS');
  }
  const known = await login(api, user.email);
  const unknown = await login(api, ghost);
  expectGraphqlError(known, 'LOCKD');
  expectGraphqlError(unknown, 'LOCKD');
  expect(unknown.body).toEqual(known.body);
});

// Against locking the owner out: an attacker's failures from elsewhere leave the owner's address open.
it('failures from another IP do not lock the owner out of this one', async () => {
  const user = await newAccount(api, 'lock-elsewhere');
  for (let i = 0; i < 6; i++) {
    const client = await db.auth.connect();
    try {
      await client.query('begin');
      await client.query('set local role lms_anonymous');
      await client.query("select set_config('lms.client_ip', '203.0.113.77', true), set_config('lms.bcrypt_cost', '4', true)");
      await client.query("select status from lms_private.login($1, 'an attacker''s guess', null, '1 day', '1 day')", [user.email]);
      await client.query('commit');
    } finally {
      client.release();
    }
  }
  const { rows } = await db.root.query('select host(client_ip) as ip from lms_private.user_lockouts where user_id = $1 and locked_until > now()', [user.id]);
  expect(rows).toEqual([{ ip: '203.0.113.77' }]);
  await signIn(api, user.email);
});
