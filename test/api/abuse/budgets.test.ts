// The per-request time budgets, for operations that get past the document limits because an
// operator raised them: planning is cut off, not left to hold the event loop.
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db, {
    env: { LMS_MAX_TOKENS: '100000', LMS_MAX_ALIASES: '10000', LMS_MAX_EXPANDED_FIELDS: '1000000', LMS_MAX_COST: '100000000', LMS_PLANNING_TIMEOUT_MS: '10' },
  });
});
afterAll(async () => {
  await api.close();
  await db.close();
});

function wide(fields: number): string {
  return `query{${Array.from({ length: fields }, (_, i) => `c${i}:currentUser{rowId fullName email}`).join(' ')}}`;
}

it('an operation that takes too long to plan is aborted with PLANNING_TIMEOUT', async () => {
  const started = performance.now();
  const res = await api.graphql(wide(600));
  const elapsed = performance.now() - started;
  expect(res.body.errors?.[0]?.extensions?.code).toBe('PLANNING_TIMEOUT');
  expect(res.body.data ?? null).toBeNull();
  expect(elapsed).toBeLessThan(10_000);
});
