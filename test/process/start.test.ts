import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { projectPath } from '../../src/paths.ts';
import { eventually } from '../support/eventually.ts';

let db: TestDatabase;
let child: ChildProcess;
let output = '';
let url: string;

/** Waits until the process has printed a line that matches. */
function waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return eventually(
    () => Promise.resolve(pattern.exec(output) ?? undefined),
    () => `${pattern}; output so far:\n${output}`,
    timeoutMs,
  );
}

/** `npm start` as an operator runs it: a real process, on its own free port. */
beforeAll(async () => {
  db = await createTestDatabase();
  child = spawn(process.execPath, [projectPath('bin', 'start.ts')], {
    cwd: projectPath(),
    env: {
      ...process.env,
      NODE_ENV: 'development',
      DATABASE_URL: db.rootUrl,
      PORT: '0',
      LMS_DATA_DIR: path.join(os.tmpdir(), `coursebase-process-${process.pid}`),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  url = (await waitFor(/GraphQL API: (http:\/\/localhost:\d+)\/graphql/))[1]!;
  await waitFor(/worker running/);
});

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await db.close();
});

it('migrates (nothing to do on a migrated database), then serves the API, GraphiQL and the worker', async () => {
  expect(output).toMatch(/graphile-migrate: Already up to date/);
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ currentUser { rowId } }' }),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ data: { currentUser: null } });
  const graphiql = await fetch(`${url}/graphiql`);
  expect(graphiql.status).toBe(200);
  expect(await graphiql.text()).toMatch(/ruru/i);
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
});

it('shuts down cleanly on SIGTERM, in order', async () => {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(output).toMatch(/SIGTERM: shutting down[\s\S]*stopped/);
  await expect(fetch(`${url}/healthz`)).rejects.toThrow();
});
