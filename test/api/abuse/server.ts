import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../../src/config.ts';
import { projectPath } from '../../../src/paths.ts';
import { freshSigningKey } from '../../support/api.ts';
import type { TestDatabase } from '../../support/db.ts';
import { eventually } from '../../support/eventually.ts';

export interface RunningServer {
  readonly url: string;
  /** The server's own configuration, for signing tokens it accepts. */
  readonly config: Config;
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; ms: number; headers: Headers }>;
  stop(): Promise<void>;
}

/** `npm run serve` as an operator runs it in production: its own process, its own event loop. */
export async function startProductionServer(db: TestDatabase, extraEnv: Record<string, string> = {}): Promise<RunningServer> {
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    DATABASE_URL: db.ownerUrl,
    AUTH_DATABASE_URL: db.authUrl,
    JWT_SECRET: randomBytes(32).toString('hex'),
    LMS_CERT_SIGNING_KEY: freshSigningKey(),
    LMS_CERT_KEY_ID: 'abuse-test',
    STRIPE_SECRET_KEY: 'sk_test_abuse',
    STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
    LMS_PUBLIC_URL: 'https://learn.example.test',
    // No SMTP server here: production must be told the outbox is meant.
    LMS_MAIL_TRANSPORT: 'outbox',
    LMS_BCRYPT_COST: '10',
    PORT: '0',
    LMS_DATA_DIR: path.join(os.tmpdir(), `coursebase-abuse-${process.pid}-${Date.now()}`),
    ...extraEnv,
  };
  const child: ChildProcess = spawn(process.execPath, [projectPath('bin', 'serve.ts')], {
    cwd: projectPath(),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const started = await eventually(
    () => Promise.resolve(/GraphQL API: (http:\/\/localhost:\d+)\/graphql/.exec(output) ?? undefined),
    () => `the server to start; output so far:\n${output}`,
    30_000,
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  const url = started[1]!;
  return {
    url,
    config: loadConfig(env),
    async post(body, headers = {}) {
      const started = performance.now();
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: JSON.parse(text), ms: performance.now() - started, headers: res.headers };
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(forced);
    },
  };
}

export interface HealthReport {
  samples: number;
  slowestMs: number;
  failures: string[];
}

export interface HealthMonitor {
  /** Stops polling; the slowest answer and every failed one. */
  stop(): Promise<HealthReport>;
}

/** Polls /healthz from a process of its own while an attack runs against the server. */
export async function monitorHealth(url: string): Promise<HealthMonitor> {
  const probe = spawn(process.execPath, [projectPath('test', 'api', 'abuse', 'health-probe.ts'), url], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  probe.stdout!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => probe.once('exit', () => resolve()));
  // Node's first fetch takes a while to load; let the probe settle before the attack starts.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    async stop() {
      probe.stdin!.end();
      await exited;
      return JSON.parse(output) as HealthReport;
    },
  };
}
