/**
 * Requests per second through the API, each against a baseline measured in the same run:
 * GET /healthz (Express plus one `select 1`). An anonymous catalog query, and an authenticated
 * one (JWT check, the per-request role lookup, then the query under RLS), with 50 concurrent
 * clients in this process for BENCH_SECONDS seconds each.
 *
 *   npm run bench:api
 */
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { createMigratedDatabase, startTestCluster, superuserUrl } from '../test/support/cluster.ts';
import { DEV_ROLE_PASSWORDS, withCredentials } from '../src/db/connections.ts';
import { loadConfig } from '../src/config.ts';
import { createApi } from '../src/server/app.ts';
import { signAccessToken } from '../src/server/tokens.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = 50;

const cluster = await startTestCluster();
const database = 'coursebase_bench_api';
await createMigratedDatabase(cluster.baseUrl, database);
const rootUrl = superuserUrl(cluster.baseUrl, database);
const root = new pg.Pool({ connectionString: rootUrl, max: 2 });
const { rows } = await root.query(
  `with u as (insert into lms_public.users (email, full_name, role) values ('bench@bench.test', 'Bench', 'instructor') returning id),
        p as (insert into lms_private.user_passwords select id, 'x' from u),
        c as (insert into lms_public.courses (title, instructor_id, is_published) select 'Course ' || i, u.id, true from u, generate_series(1, 20) i)
   select id from u`,
);
const config = loadConfig({ NODE_ENV: 'production', DATABASE_URL: rootUrl, JWT_SECRET: 'b'.repeat(40), LMS_CERT_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64') });
const authPool = new pg.Pool({ connectionString: withCredentials(rootUrl, 'lms_authenticator', DEV_ROLE_PASSWORDS.lms_authenticator), max: 10 });
const api = createApi(config, authPool);
const server = http.createServer(api.app);
await api.attach(server);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const token = signAccessToken(config, { userId: rows[0].id, role: 'instructor', sessionId: '00000000-0000-0000-0000-000000000000' });

async function rate(name: string, request: () => Promise<Response>): Promise<number> {
  await Promise.all(Array.from({ length: CONCURRENCY }, () => request().then((r) => r.arrayBuffer())));
  let done = 0;
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        const res = await request();
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
        done++;
      }
    }),
  );
  return done / SECONDS;
}

const graphql = (query: string, auth?: string) => () =>
  fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    body: JSON.stringify({ query }),
  });

const baseline = await rate('healthz', () => fetch(`${base}/healthz`));
const anonymous = await rate('anonymous', graphql('{ courses(first: 10) { nodes { title instructorName } } }'));
const signedIn = await rate('signed in', graphql('{ currentUser { rowId fullName } courses(first: 10) { nodes { title } } }', token));
console.log(`baseline GET /healthz: ${baseline.toFixed(0)} req/s`);
console.log(`anonymous catalog query: ${anonymous.toFixed(0)} req/s (${(anonymous / baseline).toFixed(2)}× baseline)`);
console.log(`signed-in query (role re-read, RLS): ${signedIn.toFixed(0)} req/s (${(signedIn / baseline).toFixed(2)}× baseline, ${(signedIn / anonymous).toFixed(2)}× anonymous)`);

server.closeAllConnections();
await new Promise<void>((resolve) => server.close(() => resolve()));
await api.pgl.release();
for (const pool of [root, authPool]) pool.on('error', () => {});
await Promise.all([authPool.end(), root.end()]);
await cluster.stop();
