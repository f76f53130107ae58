import type { Task } from 'graphile-worker';
import type { Config } from '../../src/config.ts';

/** The periodic sweep behind quiz_attempts__finalize: no overdue attempt stays open. */
export default function quizAttemptsFinalizeOverdue(config: Config): Task {
  return async (_payload, helpers) => {
    const count = await helpers.withPgClient(async (client) => {
      await client.query('begin');
      try {
        await client.query("select set_config('lms.quiz_grace_seconds', $1, true)", [String(config.quizGraceSeconds)]);
        const { rows } = await client.query<{ count: number }>('select lms_private.finalize_overdue_attempts() as count');
        await client.query('commit');
        return rows[0]!.count;
      } catch (error) {
        await client.query('rollback');
        throw error;
      }
    });
    if (count > 0) helpers.logger.info(`finalised ${count} overdue attempts`);
  };
}
