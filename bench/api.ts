/**
 * Requests per second through the API, each against a baseline measured in the same run:
 * GET /healthz (Express plus one `select 1`). An anonymous catalog query, and an authenticated
 * one (JWT check, the per-request role lookup, then the query under RLS), with 50 connections
 * from autocannon in a separate process for BENCH_SECONDS seconds each, plus an anonymous
 * primary-key lookup, the shape of DESIGN.md's PostGraphile figures.
 *
 *   npm run bench:api
 */
import http from 'node:http';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { createMigratedDatabase, startScratchCluster, superuserUrl } from '../src/db/scratch-cluster.ts';
import { DEV_ROLE_PASSWORDS, withCredentials } from '../src/db/connections.ts';
import { loadConfig } from '../src/config.ts';
import { createApi } from '../src/server/app.ts';
import { makeApiPools } from '../src/db/pools.ts';
import { signAccessToken } from '../src/server/tokens.ts';
import { projectPath } from '../src/paths.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = 50;

const cluster = await startScratchCluster();
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
const config = loadConfig({
  NODE_ENV: 'production',
  DATABASE_URL: rootUrl,
  JWT_SECRET: 'b'.repeat(40),
  LMS_CERT_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
  // What production now requires besides its secrets (src/config.ts); no mail is sent here.
  LMS_CERT_KEY_ID: 'bench',
  LMS_PUBLIC_URL: 'https://learn.example.test',
  LMS_MAIL_TRANSPORT: 'outbox',
});
const pools = makeApiPools(config, withCredentials(rootUrl, 'lms_authenticator', DEV_ROLE_PASSWORDS.lms_authenticator), () => {});
const api = createApi(config, pools);
const server = http.createServer(api.app);
await api.attach(server);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const token = signAccessToken(config, { userId: rows[0].id, role: 'instructor', sessionId: '00000000-0000-0000-0000-000000000000' });

/** autocannon in its own process, so that the load generator does not share our event loop. */
function rate(path: string, body?: string, auth?: string): Promise<number> {
  const args = [projectPath('node_modules', 'autocannon', 'autocannon.js'), '--json', '-c', String(CONCURRENCY), '-d', String(SECONDS)];
  if (body !== undefined) args.push('-m', 'POST', '-H', 'content-type=application/json', '-b', body);
  if (auth !== undefined) args.push('-H', `authorization=Bearer ${auth}`);
  args.push(`${base}${path}`);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 10 * 1024 * 1024 }, (error, stdout) => {
      if (error) return reject(new Error(`autocannon failed: ${error.message}`));
      const result = JSON.parse(stdout);
      if (result.non2xx > 0 || result.errors > 0) return reject(new Error(`${path}: ${result.non2xx} non-2xx, ${result.errors} errors`));
      resolve(result.requests.average);
    });
  });
}

const graphql = (query: string) => JSON.stringify({ query });

const { rows: courseRows } = await root.query('select id from lms_public.courses limit 1');
const baseline = await rate('/healthz');
const lookup = await rate('/graphql', graphql(`{ course(rowId: "${courseRows[0].id}") { title } }`));
const anonymous = await rate('/graphql', graphql('{ courses(first: 10) { nodes { title instructorName } } }'));
const signedIn = await rate('/graphql', graphql('{ currentUser { rowId fullName } courses(first: 10) { nodes { title } } }'), token);
console.log(`baseline GET /healthz: ${baseline.toFixed(0)} req/s`);
console.log(`anonymous primary-key lookup: ${lookup.toFixed(0)} req/s (${(lookup / baseline).toFixed(2)}× baseline)`);
console.log(`anonymous catalog query: ${anonymous.toFixed(0)} req/s (${(anonymous / baseline).toFixed(2)}× baseline)`);
console.log(
  `signed-in query (role re-read, RLS): ${signedIn.toFixed(0)} req/s (${(signedIn / baseline).toFixed(2)}× baseline, ${(signedIn / anonymous).toFixed(2)}× anonymous)`,
);

// Let the last requests finish before the pools go.
const closed = new Promise<void>((resolve) => server.close(() => resolve()));
server.closeIdleConnections();
await closed;
await api.pgl.release();
root.on('error', () => {});
await Promise.all([pools.end(), root.end()]);
await cluster.stop();
