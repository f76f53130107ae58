import type { Task } from 'graphile-worker';

/** Scheduled clean-up: expired refresh tokens serve no one once past their expiry. */
const task: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ purged: number }>('select lms_private.purge_expired_refresh_tokens() as purged');
  helpers.logger.info(`purged ${rows[0]?.purged ?? 0} expired refresh tokens`);
};

export default task;
