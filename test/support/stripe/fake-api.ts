/*
 * A small fake of the Stripe API, for the `stripe` client pointed at it through STRIPE_API_BASE:
 * customers and Checkout Sessions, with Stripe's idempotency (the same key answers the same
 * object). It records every request, so tests can check what was sent. No network reaches Stripe.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface FakeRequest {
  method: string;
  path: string;
  /** The form body as Stripe's client encodes it: flat keys such as `metadata[payment_id]`. */
  params: Record<string, string>;
  idempotencyKey: string | undefined;
  apiVersion: string | undefined;
}

export interface FakeStripe {
  readonly url: string;
  readonly requests: FakeRequest[];
  readonly sessions: Map<string, Record<string, unknown>>;
  close(): Promise<void>;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

/** Flat form keys back into nested objects: `a[b][0][c]=x` becomes {a: {b: {0: {c: 'x'}}}}. */
function nest(params: Record<string, string>): Record<string, any> {
  const out: Record<string, any> = {};
  for (const [key, value] of Object.entries(params)) {
    const parts = key.split(/\[|\]\[|\]/).filter((p) => p !== '');
    let node = out;
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1) node[part] = value;
      else node = node[part] ??= {};
    }
  }
  return out;
}

export async function startFakeStripe(): Promise<FakeStripe> {
  const requests: FakeRequest[] = [];
  const sessions = new Map<string, Record<string, unknown>>();
  const byIdempotencyKey = new Map<string, { status: number; body: unknown }>();

  function handle(req: FakeRequest): { status: number; body: unknown } {
    const p = nest(req.params);
    if (req.method === 'POST' && req.path === '/v1/customers') {
      return { status: 200, body: { id: id('cus'), object: 'customer', email: p.email ?? null, metadata: p.metadata ?? {} } };
    }
    if (req.method === 'POST' && req.path === '/v1/checkout/sessions') {
      const sessionId = id('cs_test');
      const session = {
        id: sessionId,
        object: 'checkout.session',
        mode: p.mode,
        status: 'open',
        payment_status: 'unpaid',
        customer: p.customer ?? null,
        client_reference_id: p.client_reference_id ?? null,
        metadata: p.metadata ?? {},
        line_items: p.line_items,
        payment_intent_data: p.payment_intent_data,
        subscription_data: p.subscription_data,
        success_url: p.success_url,
        cancel_url: p.cancel_url,
        url: `https://checkout.stripe.test/c/pay/${sessionId}`,
      };
      sessions.set(sessionId, session);
      return { status: 200, body: session };
    }
    return { status: 404, body: { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${req.path})` } } };
  }

  const server = http.createServer((incoming, res) => {
    let raw = '';
    incoming.on('data', (chunk) => (raw += chunk));
    incoming.on('end', () => {
      const req: FakeRequest = {
        method: incoming.method ?? 'GET',
        path: (incoming.url ?? '/').split('?')[0]!,
        params: Object.fromEntries(new URLSearchParams(raw)),
        idempotencyKey: incoming.headers['idempotency-key'] as string | undefined,
        apiVersion: incoming.headers['stripe-version'] as string | undefined,
      };
      requests.push(req);
      const key = req.idempotencyKey ? `${req.path} ${req.idempotencyKey}` : undefined;
      const answer = (key && byIdempotencyKey.get(key)) || handle(req);
      if (key) byIdempotencyKey.set(key, answer);
      res.writeHead(answer.status, { 'content-type': 'application/json', 'request-id': id('req') });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    sessions,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
