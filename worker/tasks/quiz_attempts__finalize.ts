import type { Task } from 'graphile-worker';
import type { Config } from '../../src/config.ts';
import { withTransaction } from '../../src/db/transaction.ts';

/**
 * Queued at an attempt's deadline (plus grace): submits it with its saved answers if the
 * student has not. Re-reads the attempt, so a retry or an early run is harmless.
 */
export default function quizAttemptsFinalize(config: Config): Task {
  return async (payload, helpers) => {
    const attemptId = (payload as { attemptId?: unknown } | null)?.attemptId;
    if (typeof attemptId !== 'string') throw new Error('payload needs an attemptId');
    const outcome = await helpers.withPgClient((pgClient) =>
      withTransaction(pgClient, { settings: { 'lms.quiz_grace_seconds': String(config.quizGraceSeconds) } }, async (client) => {
        const { rows } = await client.query<{ outcome: string }>('select lms_private.finalize_overdue_attempt($1) as outcome', [attemptId]);
        return rows[0]!.outcome;
      }),
    );
    if (outcome === 'not yet due') throw new Error(`attempt ${attemptId} is not due yet; retrying later`);
    helpers.logger.info(`attempt ${attemptId}: ${outcome}`);
  };
}
