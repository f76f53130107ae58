import { createMigratedDatabase, startScratchCluster } from '../../src/db/scratch-cluster.ts';
import { TEMPLATE_DATABASE } from './db.ts';

declare global {
  var __coursebaseTestCluster: { stop: () => Promise<void> } | undefined;
}

/** One PostgreSQL 16 for the run, and a migrated template that each test file clones. */
export default async function globalSetup(): Promise<void> {
  const cluster = await startScratchCluster();
  globalThis.__coursebaseTestCluster = cluster;
  process.env.COURSEBASE_TEST_BASE_URL = cluster.baseUrl;
  await createMigratedDatabase(cluster.baseUrl, TEMPLATE_DATABASE);
}
