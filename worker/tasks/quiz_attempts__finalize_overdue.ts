import type { Task } from 'graphile-worker';
import type { Config } from '../../src/config.ts';
import { withTransaction } from '../../src/db/transaction.ts';

/** The periodic sweep behind quiz_attempts__finalize: no overdue attempt stays open. */
export default function quizAttemptsFinalizeOverdue(config: Config): Task {
  return async (_payload, helpers) => {
    const count = await helpers.withPgClient((pgClient) =>
      withTransaction(pgClient, { settings: { 'lms.quiz_grace_seconds': String(config.quizGraceSeconds) } }, async (client) => {
        const { rows } = await client.query<{ count: number }>('select lms_private.finalize_overdue_attempts() as count');
        return rows[0]!.count;
      }),
    );
    if (count > 0) helpers.logger.info(`finalised ${count} overdue attempts`);
  };
}
