import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedPostgres } from './embedded.ts';
import { loadConfig } from '../config.ts';
import { resolveConnections } from './connections.ts';
import { migrateDatabase } from './migrate.ts';

/*
 * A throwaway PostgreSQL for the test suite and the benchmarks, which both measure the real
 * migrations on a database nobody else uses. Kept under src/ so that bench/ needs nothing from test/.
 */

/** The superuser URL of another database on the same cluster. */
export function superuserUrl(baseUrl: string, database: string): string {
  const u = new URL(baseUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A TCP port nobody listens on now, so that parallel runs (other checkouts, CI jobs) do not collide. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** TEST_DATABASE_URL's cluster, or a fresh embedded one in a temporary folder, removed on stop. */
export async function startScratchCluster(): Promise<{ baseUrl: string; stop: () => Promise<void> }> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) return { baseUrl: external, stop: async () => {} };
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-test-'));
  await fs.chmod(dataDir, 0o755);
  const cluster = new EmbeddedPostgres({
    dataDir,
    port: process.env.LMS_TEST_PG_PORT ? Number(process.env.LMS_TEST_PG_PORT) : await freePort(),
    password: 'coursebase_test',
  });
  await cluster.start();
  return {
    baseUrl: cluster.superuserUrl('postgres'),
    stop: async () => {
      await cluster.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops and recreates a database, then migrates it exactly as `npm run db:migrate` does. */
export async function createMigratedDatabase(baseUrl: string, database: string): Promise<void> {
  await withClient(superuserUrl(baseUrl, 'postgres'), async (client) => {
    await client.query(`drop database if exists ${client.escapeIdentifier(database)} with (force)`);
    await client.query(`create database ${client.escapeIdentifier(database)}`);
  });
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: superuserUrl(baseUrl, database) });
  await migrateDatabase(await resolveConnections(config));
}
