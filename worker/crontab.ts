/** graphile-worker crontab: minute hour day month weekday task ?options. */
export const crontab = ['15 * * * * refresh_tokens__purge_expired ?max=1'].join('\n');
