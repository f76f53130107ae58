import { type Db, asRoot } from '../db.ts';
import type { StripeEvent } from './events.ts';

/**
 * Records an event as the webhook route does (receive_stripe_event) and applies it as the worker
 * does (apply_stripe_event), in the caller's transaction; returns the event's status.
 */
export async function deliverInSql(db: Db, evt: StripeEvent): Promise<string> {
  return asRoot(db, async (q) => {
    await q.query('select lms_private.receive_stripe_event($1, $2, $3, to_timestamp($4))', [evt.id, evt.type, JSON.stringify(evt), evt.created]);
    return (await q.query<{ status: string }>('select lms_private.apply_stripe_event($1) as status', [evt.id])).rows[0]!.status;
  });
}

export async function eventRow(db: Db, stripeEventId: string): Promise<{ status: string; error_message: string | null; processed_at: Date | null }> {
  return asRoot(db, async (q) => (await q.query('select * from lms_private.payment_webhook_events where stripe_event_id = $1', [stripeEventId])).rows[0]);
}
