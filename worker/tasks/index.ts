import type { TaskList } from 'graphile-worker';
import refresh_tokens__purge_expired from './refresh_tokens__purge_expired.ts';

/** Every task, by identifier; the identifier equals the file name. */
export const taskList: TaskList = {
  refresh_tokens__purge_expired,
};
