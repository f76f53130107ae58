/** graphile-worker crontab: minute hour day month weekday task ?options. */
export const crontab = ['15 * * * * auth_state__purge ?max=1', '*/5 * * * * quiz_attempts__finalize_overdue ?max=1', '* * * * * payments__expire_lapsed ?max=1'].join('\n');
