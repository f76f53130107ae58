import net from 'node:net';
import { startScratchCluster, withClient } from '../../src/db/scratch-cluster.ts';
import { logger } from '../../src/log.ts';

/** Holds a port as another program would; one already taken (another run's cluster) is held too. */
async function occupy(port: number): Promise<() => Promise<void>> {
  const server = net.createServer();
  const taken = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  return async () => {
    if (taken) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

it('the test cluster takes a free port unless LMS_TEST_PG_PORT names one, so a busy 54339 is no obstacle', async () => {
  const release = await occupy(54339);
  const named = process.env.LMS_TEST_PG_PORT;
  delete process.env.LMS_TEST_PG_PORT;
  try {
    const cluster = await startScratchCluster();
    try {
      const port = Number(new URL(cluster.baseUrl).port);
      expect(port).not.toBe(54339);
      expect(await withClient(cluster.baseUrl, async (c) => (await c.query('select 1 as one')).rows[0].one)).toBe(1);
    } finally {
      await cluster.stop();
    }
  } finally {
    if (named !== undefined) process.env.LMS_TEST_PG_PORT = named;
    await release();
  }
});

it("keeps the API's and worker's log lines out of the test output", () => {
  const write = jest.spyOn(process.stdout, 'write');
  try {
    logger('worker')('Completed task 1 (certificates__issue, 5ms) with success');
    expect(write).not.toHaveBeenCalled();
  } finally {
    write.mockRestore();
  }
});
