import type { TaskList } from 'graphile-worker';
import type { Config } from '../../src/config.ts';
import { makeMailer } from '../../src/mail.ts';
import auth_state__purge from './auth_state__purge.ts';
import certificates__issue from './certificates__issue.ts';
import database__backup from './database__backup.ts';
import payments__apply_event from './payments__apply_event.ts';
import payments__expire_lapsed from './payments__expire_lapsed.ts';
import quiz_attempts__finalize from './quiz_attempts__finalize.ts';
import quiz_attempts__finalize_overdue from './quiz_attempts__finalize_overdue.ts';
import users__send_password_reset_email from './users__send_password_reset_email.ts';
import users__send_verification_email from './users__send_verification_email.ts';

/** Every task, by identifier; the identifier equals the file name. */
export function makeTaskList(config: Config): TaskList {
  const send = makeMailer(config);
  return {
    auth_state__purge,
    certificates__issue: certificates__issue(config),
    database__backup: database__backup(config),
    payments__apply_event: payments__apply_event(config),
    payments__expire_lapsed: payments__expire_lapsed(config),
    quiz_attempts__finalize: quiz_attempts__finalize(config),
    quiz_attempts__finalize_overdue: quiz_attempts__finalize_overdue(config),
    users__send_password_reset_email: users__send_password_reset_email(config, send),
    users__send_verification_email: users__send_verification_email(config, send),
  };
}
