import type { Config } from '../src/config.ts';

/** graphile-worker crontab: minute hour day month weekday task ?options. */
export const crontab = [
  '15 * * * * auth_state__purge ?max=1',
  '*/5 * * * * quiz_attempts__finalize_overdue ?max=1',
  '* * * * * payments__expire_lapsed ?max=1',
].join('\n');

/**
 * The crontab for this configuration: with the embedded database, also the daily base backup at
 * 03:30 (fill=1d: taken late, once, when the process was down at that hour).
 */
export function crontabFor(config: Config): string {
  return config.databaseUrl === undefined ? `${crontab}\n30 3 * * * database__backup ?fill=1d&max=3` : crontab;
}
