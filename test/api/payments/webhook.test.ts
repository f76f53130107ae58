import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { event, signed, type StripeEvent } from '../../support/stripe/events.ts';

// POST /webhooks/stripe over HTTP: what is recorded, what is refused, and that duplicates are one.

const SECRET = 'whsec_webhook_test_secret';
let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db, { env: { STRIPE_WEBHOOK_SECRET: SECRET } });
});
afterAll(async () => {
  await api.close();
  await db.close();
});

async function post(body: string | Buffer, headers: Record<string, string>) {
  const res = await fetch(`${api.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: (await res.json()) as any };
}
const deliver = (evt: StripeEvent, secret = SECRET, timestamp?: number) => {
  const { body, signature } = signed(evt, secret, timestamp);
  return post(body, { 'stripe-signature': signature });
};
const recorded = async (stripeEventId: string) =>
  (
    await db.root.query(
      `select (select count(*)::int from lms_private.payment_webhook_events where stripe_event_id = $1) as events,
            (select count(*)::int from graphile_worker.jobs where key = 'payments__apply_event:' || $1) as jobs`,
      [stripeEventId],
    )
  ).rows[0];

it('records a correctly signed event with its raw body and queues one job for it, answering at once', async () => {
  const evt = event('customer.created', { id: 'cus_1', object: 'customer' });
  expect(await deliver(evt)).toEqual({ status: 200, body: { received: true, duplicate: false } });
  expect(await recorded(evt.id)).toEqual({ events: 1, jobs: 1 });
  const { rows } = await db.root.query(
    'select event_type, status, payload, stripe_created_at from lms_private.payment_webhook_events where stripe_event_id = $1',
    [evt.id],
  );
  expect(rows).toEqual([{ event_type: 'customer.created', status: 'received', payload: JSON.stringify(evt), stripe_created_at: new Date(evt.created * 1000) }]);
});

it('the same event delivered 10 times in sequence and 10 times at once is one row and one job', async () => {
  const evt = event('invoice.paid', { id: 'in_1', object: 'invoice' });
  for (let i = 0; i < 10; i++) expect((await deliver(evt)).status).toBe(200);
  const concurrent = event('invoice.paid', { id: 'in_2', object: 'invoice' });
  const answers = await Promise.all(Array.from({ length: 10 }, () => deliver(concurrent)));
  expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
  expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);
  expect(await recorded(evt.id)).toEqual({ events: 1, jobs: 1 });
  expect(await recorded(concurrent.id)).toEqual({ events: 1, jobs: 1 });
});

it('refuses, with 400 and nothing written, a tampered, unsigned, wrongly signed or too old event', async () => {
  const evt = event('charge.refunded', { id: 'ch_1', object: 'charge', amount: 100, amount_refunded: 100 });
  const { body, signature } = signed(evt, SECRET);
  const cases = [
    post(body.replace('"amount":100', '"amount":1'), { 'stripe-signature': signature }),
    post(body, {}),
    post(body, { 'stripe-signature': 'garbage' }),
    deliver(evt, 'whsec_someone_else'),
    deliver(evt, SECRET, Math.floor(Date.now() / 1000) - 301),
  ];
  for (const answer of await Promise.all(cases)) {
    expect(answer).toEqual({ status: 400, body: { errors: [{ message: expect.any(String), extensions: { code: 'INVALID_SIGNATURE' } }] } });
  }
  expect(await recorded(evt.id)).toEqual({ events: 0, jobs: 0 });
  expect((await db.root.query("select count(*)::int as n from lms_private.payment_webhook_events where event_type = 'charge.refunded'")).rows).toEqual([
    { n: 0 },
  ]);
});

it('a body over a megabyte gets 413', async () => {
  const evt = event('customer.created', { id: 'cus_big', object: 'customer', description: 'x'.repeat(1_100_000) });
  const { status, body } = await deliver(evt);
  expect({ status, code: body.errors[0].extensions.code }).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  expect(await recorded(evt.id)).toEqual({ events: 0, jobs: 0 });
});
