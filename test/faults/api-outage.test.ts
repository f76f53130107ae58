import http from 'node:http';
import net from 'node:net';
import { eventually } from '../support/eventually.ts';
import { queueCertificates, signedCertificates, spawnProcess, startFaultCluster, type FaultCluster, type Spawned } from '../support/fault-cluster.ts';

/*
 * `npm start` (the API and the worker in one process) while its PostgreSQL stops and starts:
 * neither exits, the API answers 503 DATABASE_UNAVAILABLE with Retry-After during the outage
 * (one log line for it) and 200 after, and the worker finishes its jobs. Then SIGTERM: the API
 * drains, finishes the request in flight, and closes.
 */

let cluster: FaultCluster;
let app: Spawned;
let url: string;

beforeAll(async () => {
  cluster = await startFaultCluster(54426);
  app = spawnProcess('start', cluster, { LMS_SHUTDOWN_DRAIN_SECONDS: '2', LMS_SHUTDOWN_GRACE_SECONDS: '20' });
  url = (await app.waitFor(/GraphQL API: (http:\/\/localhost:\d+)\/graphql/, 60_000))[1]!;
  await app.waitFor(/worker running/);
}, 90_000);

afterAll(async () => {
  if (app.child.exitCode === null) app.child.kill('SIGKILL');
  await cluster.destroy();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** node:http rather than fetch, which hides the Connection header. */
function request(path: string, body?: unknown, agent?: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${path}`,
      { method: body === undefined ? 'GET' : 'POST', headers: body === undefined ? {} : { 'content-type': 'application/json' }, agent },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
const currentUser = { query: '{ currentUser { rowId } }' };
const outageLines = () => app.output().match(/database unavailable \(/g)?.length ?? 0;

it('answers 503 DATABASE_UNAVAILABLE while PostgreSQL is down, logs the outage once, and recovers without a restart; the worker finishes its jobs', async () => {
  expect((await request('/graphql', currentUser)).status).toBe(200);
  const enrollments = await queueCertificates(cluster.root, 80);
  await eventually(async () => ((await signedCertificates(cluster.root, enrollments)) >= 5 ? true : undefined), 'the first certificates', 30_000);

  await cluster.stopPostgres();
  const graphql = await eventually(async () => {
    const answer = await request('/graphql', currentUser);
    return answer.status === 503 ? answer : undefined;
  }, 'GraphQL to answer 503');
  expect(graphql.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'DATABASE_UNAVAILABLE' } }] });
  expect(graphql.headers['retry-after']).toBe('5');
  const health = await request('/healthz');
  expect(health.status).toBe(503);
  expect(health.headers['retry-after']).toBe('5');
  expect(health.body).toMatchObject({ status: 'unavailable', database: 'down', errors: [{ extensions: { code: 'DATABASE_UNAVAILABLE' } }] });
  for (let i = 0; i < 20; i++) expect((await request('/graphql', currentUser)).status).toBe(503);
  expect(outageLines()).toBe(1);
  expect(app.child.exitCode).toBeNull();

  await cluster.startPostgres();
  await eventually(async () => ((await request('/graphql', currentUser)).status === 200 ? true : undefined), 'GraphQL to answer 200 again', 30_000);
  expect(await request('/graphql', currentUser)).toMatchObject({ status: 200, body: { data: { currentUser: null } } });
  expect((await request('/healthz')).status).toBe(200);
  expect(app.output()).toMatch(/database available again after/);
  expect(outageLines()).toBe(1);

  await eventually(
    async () => ((await signedCertificates(cluster.root, enrollments)) === enrollments.length ? true : undefined),
    () => `every certificate; the process said:\n${app.output().slice(-4000)}`,
    60_000,
  );
  expect(app.child.exitCode).toBeNull();
}, 120_000);

it('on SIGTERM reports draining (/healthz 503, Connection: close), finishes the request in flight, then closes', async () => {
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  expect((await request('/healthz', undefined, keepAlive)).headers.connection).toBe('keep-alive');

  // A request in flight across the shutdown: its body arrives in two halves, the second after SIGTERM.
  const body = JSON.stringify(currentUser);
  const socket = net.connect(Number(new URL(url).port), 'localhost');
  await new Promise((r) => socket.once('connect', r));
  let raw = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (raw += chunk));
  socket.write(`POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
  socket.write(body.slice(0, 5));
  await new Promise((r) => setTimeout(r, 200));

  app.child.kill('SIGTERM');
  await app.waitFor(/draining: /);
  const health = await request('/healthz');
  expect(health.status).toBe(503);
  expect(health.body).toMatchObject({ status: 'draining', errors: [{ extensions: { code: 'SHUTTING_DOWN' } }] });
  expect(health.headers.connection).toBe('close');
  const during = await request('/graphql', currentUser, keepAlive);
  expect(during).toMatchObject({ status: 200, body: { data: { currentUser: null } } });
  expect(during.headers.connection).toBe('close');

  await app.waitFor(/no longer accepting connections; waiting up to 20 s for 1 in-flight request\(s\)/);
  socket.write(body.slice(5));
  await eventually(async () => Promise.resolve(/\r\n\r\n\{/.test(raw) ? true : undefined), 'the in-flight response');
  expect(raw).toMatch(/^HTTP\/1\.1 200 /);
  expect(raw).toMatch(/\r\nConnection: close\r\n/i);

  expect(await app.exited).toBe(0);
  expect(app.output()).toMatch(
    /draining: [\s\S]*no longer accepting connections[\s\S]*every in-flight request finished; HTTP server closed[\s\S]*worker stopped[\s\S]*\bstopped\n/,
  );
  keepAlive.destroy();
}, 60_000);
