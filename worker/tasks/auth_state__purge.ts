import type { Task } from 'graphile-worker';

/** Scheduled clean-up of expired sessions, email tokens, rate-limit windows and lockouts. */
const task: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ purged: Record<string, number> }>('select lms_private.purge_stale_auth_state() as purged');
  helpers.logger.info(`purged ${JSON.stringify(rows[0]?.purged ?? {})}`);
};

export default task;
