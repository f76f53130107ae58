// Attacks on the rate limiter and the connection pools, and the timeouts that bound every
// statement, against a real production-mode server process with bcrypt at a production cost.
import { accessToken } from '../../support/api.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { insertUser } from '../../support/fixtures.ts';
import { monitorHealth, startProductionServer, type RunningServer } from './server.ts';

let db: TestDatabase;
let server: RunningServer;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startProductionServer(db, { LMS_LOCK_TIMEOUT_MS: '300' });
  expect((await server.post({ query: '{ __typename }' })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await db?.close();
});

beforeEach(() => db.root.query('delete from lms_private.rate_limit_hits'));

const codeOf = (body: any): string | undefined => body?.errors?.[0]?.extensions?.code;
const loginField = (alias: string, directives = '') =>
  `${alias}: login(input: {email: "nobody-${alias}@example.test", password: "wrong password!"}) ${directives} { accessToken }`;

async function hits(): Promise<Array<{ client_key: string; hits: number }>> {
  const { rows } = await db.root.query("select client_key, hits from lms_private.rate_limit_hits where action = 'login' order by client_key");
  return rows;
}

it('@skip cannot hide logins from the limiter: 20 skipped logins in one request count 20', async () => {
  const fields = Array.from({ length: 20 }, (_, i) => loginField(`l${i}`, '@skip(if: true)')).join(' ');
  const res = await server.post({ query: `mutation { ${fields} }` });
  expect(res.status).toBe(200);
  expect(await hits()).toEqual([{ client_key: '127.0.0.1', hits: 20 }]);
});

it('a chain of skipped fragments is walked without recursion, and a chain past the token limit is refused whole', async () => {
  const chain = (n: number) =>
    `mutation { ...F0 } ` +
    Array.from({ length: n }, (_, i) =>
      i === n - 1 ? `fragment F${i} on Mutation { ${loginField('last', '@skip(if: true)')} }` : `fragment F${i} on Mutation { ...F${i + 1} @skip(if: true) }`,
    ).join(' ');
  const walked = await server.post({ query: chain(100) });
  expect(walked.status).toBe(200);
  expect(await hits()).toEqual([{ client_key: '127.0.0.1', hits: 1 }]);
  // A chain of about 2,100 fragments used to overflow the recursive walk, which then let the request through uncounted.
  const long = await server.post({ query: chain(1500) });
  expect(long.status).toBe(400);
  expect(codeOf(long.body)).toBe('QUERY_TOO_LARGE');
  expect(await hits()).toEqual([{ client_key: '127.0.0.1', hits: 1 }]);
});

it('a 429 says when to come back: Retry-After and RateLimit headers', async () => {
  await db.root.query(
    "insert into lms_private.rate_limit_hits (action, client_key, window_start, hits) select 'login', '127.0.0.1', date_bin(per, now(), timestamptz '2000-01-01'), max_hits from lms_private.rate_limits where action = 'login'",
  );
  const res = await server.post({ query: `mutation { ${loginField('x')} }` });
  expect(res.status).toBe(429);
  expect(codeOf(res.body)).toBe('RATE_LIMITED');
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(300);
  expect(res.headers.get('ratelimit-limit')).toBe('30');
  expect(res.headers.get('ratelimit-remaining')).toBe('0');
  expect(res.headers.get('ratelimit-reset')).toBe(String(retryAfter));
});

it('200 concurrent logins from spoofed X-Forwarded-For addresses: one bucket, a queue, and /healthz stays quick', async () => {
  const health = await monitorHealth(server.url);
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      // A different email each time, so every attempt that passes the limiter costs a bcrypt check.
      server.post({ query: `mutation { ${loginField(`a${i}`)} }` }, { 'x-forwarded-for': `10.${i >> 8}.${i & 255}.7` }),
    ),
  );
  const report = await health.stop();
  const statuses = new Map<string, number>();
  for (const r of results) {
    const key = `${r.status} ${codeOf(r.body)}`;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
  }
  // Without LMS_TRUST_PROXY the header is ignored: every request counts against the real address.
  expect(await hits()).toEqual([{ client_key: '127.0.0.1', hits: 200 }]);
  expect(statuses.get('200 CREDS')).toBe(30);
  expect(statuses.get('429 RATE_LIMITED')).toBe(170);
  expect(report.failures).toEqual([]);
  expect(report.slowestMs).toBeLessThan(200);
}, 60_000);

it('a statement waiting for a lock is stopped by lock_timeout and answers EXECUTION_TIMEOUT', async () => {
  const user = await insertUser(db.root, { role: 'student' });
  const token = accessToken(server.config, user);
  const holder = await db.root.connect();
  try {
    await holder.query('begin');
    await holder.query('select 1 from lms_public.users where id = $1 for update', [user.id]);
    const res = await server.post(
      { query: 'mutation { updateProfile(input: {fullName: "Locked Out"}) { user { fullName } } }' },
      { authorization: `Bearer ${token}` },
    );
    expect(res.ms).toBeLessThan(3000);
    expect(codeOf(res.body)).toBe('EXECUTION_TIMEOUT');
    expect(JSON.stringify(res.body)).not.toMatch(/users|lock/i);
  } finally {
    await holder.query('rollback');
    holder.release();
  }
  const { rows } = await db.root.query('select full_name from lms_public.users where id = $1', [user.id]);
  expect(rows[0].full_name).not.toBe('Locked Out');
});

it("the API's role has timeouts of its own, for any client that connects as it", async () => {
  const client = await db.auth.connect();
  try {
    const { rows } = await client.query(
      "select current_setting('statement_timeout') as s, current_setting('lock_timeout') as l, current_setting('idle_in_transaction_session_timeout') as i",
    );
    expect(rows[0]).toEqual({ s: '10s', l: '5s', i: '30s' });
  } finally {
    client.release();
  }
});
