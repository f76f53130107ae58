import type { Task } from 'graphile-worker';
import type { Config } from '../../src/config.ts';
import { withTransaction } from '../../src/db/transaction.ts';

/**
 * The scheduled sweep of the access rule: a subscription whose period (or past_due grace) ended
 * with no event from Stripe expires its enrollments here. The lessons already closed at the
 * moment of the lapse (RLS asks the rule itself); this keeps the enrollments' status true.
 */
export default function paymentsExpireLapsed(config: Config): Task {
  return async (_payload, helpers) => {
    const count = await helpers.withPgClient((pgClient) =>
      withTransaction(pgClient, { settings: { 'lms.past_due_grace_days': String(config.pastDueGraceDays) } }, async (client) => {
        const { rows } = await client.query<{ count: number }>('select lms_private.expire_lapsed_access() as count');
        return rows[0]!.count;
      }),
    );
    if (count > 0) helpers.logger.info(`expired ${count} enrollments whose access lapsed`);
  };
}
