import type { Task } from 'graphile-worker';
import type { Config } from '../../src/config.ts';
import { withTransaction } from '../../src/db/transaction.ts';

interface Payload {
  eventId: string;
}

/**
 * Applies one received Stripe event through lms_private.apply_stripe_event, which commits the
 * effects with the event's status. A failure is committed as the event's status (with its
 * message) rather than raised in SQL; it is thrown here, so that graphile-worker retries the job
 * with its backoff while the admin sees the error in webhookEvents.
 */
export default function paymentsApplyEvent(config: Config): Task {
  return async (payload, helpers) => {
    const { eventId } = payload as Payload;
    if (typeof eventId !== 'string') throw new Error('payments__apply_event needs an eventId');
    const outcome = await helpers.withPgClient((pgClient) =>
      withTransaction(pgClient, { settings: { 'lms.past_due_grace_days': String(config.pastDueGraceDays) } }, async (client) => {
        const { rows } = await client.query<{ status: string }>('select lms_private.apply_stripe_event($1) as status', [eventId]);
        // A second statement, to see what the first one wrote.
        const error = await client.query<{ error_message: string | null }>(
          'select error_message from lms_private.payment_webhook_events where stripe_event_id = $1',
          [eventId],
        );
        return { status: rows[0]!.status, error_message: error.rows[0]?.error_message ?? null };
      }),
    );
    if (outcome.status === 'failed') throw new Error(`Stripe event ${eventId} failed: ${outcome.error_message ?? 'unknown error'}`);
    helpers.logger.debug(`Stripe event ${eventId}: ${outcome.status}`);
  };
}
