import express, { type NextFunction, type Request, type Response } from 'express';
import type pg from 'pg';
import type Stripe from 'stripe';
import type { Config } from '../config.ts';
import { sendError } from '../errors.ts';
import { logger } from '../log.ts';
import { withTransaction } from '../db/transaction.ts';
import { SIGNATURE_TOLERANCE_SECONDS } from './stripe.ts';

export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';
/** Stripe's events are a few kilobytes; a megabyte is generous and still bounds what we buffer. */
export const MAX_WEBHOOK_BYTES = 1_000_000;

const log = logger('stripe-webhook');

/**
 * POST /webhooks/stripe: verifies Stripe's signature over the raw body (so it is mounted before
 * any JSON parser), then records the event and queues its processing in one transaction, and
 * answers at once. Processing happens in the worker (payments__apply_event), from the signed
 * payload, so a slow or failing effect never makes Stripe retry a delivery we already hold.
 */
export function stripeWebhook(config: Config, stripe: Stripe, pool: pg.Pool): express.Router {
  const router = express.Router();
  router.post(STRIPE_WEBHOOK_PATH, express.raw({ type: () => true, limit: MAX_WEBHOOK_BYTES }), async (req: Request, res: Response) => {
    const signature = req.header('stripe-signature');
    const body: unknown = req.body;
    if (!signature || !Buffer.isBuffer(body) || body.length === 0) {
      sendError(res, 'INVALID_SIGNATURE', 'A Stripe-Signature header and the raw event body are required.');
      return;
    }
    let event: Stripe.Event;
    try {
      event = stripe.webhooks.constructEvent(body, signature, config.stripeWebhookSecret, SIGNATURE_TOLERANCE_SECONDS);
    } catch {
      // Tampered, wrongly signed or older than the tolerance: nothing is written.
      sendError(res, 'INVALID_SIGNATURE', 'The Stripe signature does not match the body, or is too old.');
      return;
    }
    const created = new Date(event.created * 1000).toISOString();
    const isNew = await withTransaction(pool, {}, async (client) => {
      const { rows } = await client.query<{ is_new: boolean }>('select lms_private.receive_stripe_event($1, $2, $3, $4) as is_new', [
        event.id,
        event.type,
        body.toString('utf8'),
        created,
      ]);
      return rows[0]!.is_new;
    });
    res.status(200).json({ received: true, duplicate: !isNew });
  });
  router.use(STRIPE_WEBHOOK_PATH, (error: { type?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    if (error.type === 'entity.too.large') {
      sendError(res, 'PAYLOAD_TOO_LARGE', `A Stripe event body is at most ${MAX_WEBHOOK_BYTES} bytes.`);
      return;
    }
    log(`webhook failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`);
    next(error);
  });
  return router;
}
