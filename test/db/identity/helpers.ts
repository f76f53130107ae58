import type pg from 'pg';
import { generate } from 'otplib';
import { type TestDatabase, type Queryable, type VisitorRole } from '../../support/db.ts';

export { PASSWORD } from '../../support/fixtures.ts';

export interface SessionGrant {
  status: string;
  user_id: string | null;
  role: string | null;
  session_id: string | null;
  refresh_token: string | null;
  refresh_expires_at: Date | null;
}

/** bcrypt at its minimum cost, as a setting for committedAs. */
export const FAST_BCRYPT = { 'lms.bcrypt_cost': '4' };

/** bcrypt at its minimum cost for the rest of the transaction; set once, it survives role switches. */
export async function fastBcrypt(q: Queryable): Promise<void> {
  await q.query("select set_config('lms.bcrypt_cost', '4', true)");
}

export async function login(
  q: Queryable,
  email: string,
  password: string,
  opts: { mfaCode?: string | null; ttl?: string; sessionMax?: string } = {},
): Promise<SessionGrant> {
  const { rows } = await q.query<SessionGrant>('select * from lms_private.login($1, $2, $3, $4::interval, $5::interval)', [
    email,
    password,
    opts.mfaCode ?? null,
    opts.ttl ?? '1 day',
    opts.sessionMax ?? '30 days',
  ]);
  return rows[0]!;
}

export async function refresh(q: Queryable, token: string, reuseInterval = '10 seconds', ttl = '1 day'): Promise<SessionGrant> {
  const { rows } = await q.query<SessionGrant>('select * from lms_private.refresh_session($1, $2::interval, $3::interval)', [token, reuseInterval, ttl]);
  return rows[0]!;
}

/** The jti of a refresh token "<jti>.<secret>". */
export function jtiOf(token: string): string {
  return token.split('.')[0]!;
}

export interface SecurityEvent {
  event_type: string;
  user_id: string | null;
  actor_id: string | null;
  client_ip: string | null;
  details: Record<string, unknown>;
}

/** A user's audit events in order (run as root or owner). */
export async function eventsOf(q: Queryable, userId: string, type?: string): Promise<SecurityEvent[]> {
  const { rows } = await q.query<SecurityEvent>(
    `select event_type, user_id, actor_id, host(client_ip) as client_ip, details
     from lms_private.security_events where user_id = $1 and ($2::text is null or event_type = $2) order by id`,
    [userId, type ?? null],
  );
  return rows;
}

/** Jobs queued for a task (run as root). */
export async function jobsFor(q: Queryable, task: string): Promise<{ key: string | null; payload: Record<string, unknown> }[]> {
  const { rows } = await q.query(
    `select j.key, p.payload from graphile_worker.jobs j join graphile_worker._private_jobs p on p.id = j.id
     where j.task_identifier = $1 order by j.id`,
    [task],
  );
  return rows;
}

/** The database's current 30-second TOTP step. */
export async function dbStep(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ step: string }>('select floor(extract(epoch from clock_timestamp()) / 30)::bigint as step');
  return Number(rows[0]!.step);
}

/** The TOTP code of a base32 secret at a 30-second step, computed by otplib (not by the SQL under test). */
export function codeAt(secret: string, step: number): Promise<string> {
  return generate({ secret, epoch: step * 30 });
}

/** A six-digit string that is no code of the secret for any step near now. */
export async function wrongCode(secret: string, step: number): Promise<string> {
  const near = new Set(await Promise.all([-2, -1, 0, 1, 2, 3].map((d) => codeAt(secret, step + d))));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

export type Outcome<T> = { value: T } | { error: { code?: string; message: string } };

/**
 * Runs calls at once, each on its own API connection in its own transaction (as `role`), committing
 * each. A third connection holds `lock` until every call is waiting on it, so that they truly
 * overlap: each has done its reads before any of them can write.
 */
export async function raceBehindLock<T>(
  db: TestDatabase,
  lock: { sql: string; params: unknown[] },
  role: VisitorRole,
  calls: ((client: pg.PoolClient) => Promise<T>)[],
): Promise<Outcome<T>[]> {
  const blocker = await db.root.connect();
  const clients: pg.PoolClient[] = [];
  try {
    await blocker.query('begin');
    const locked = await blocker.query(lock.sql, lock.params);
    if (locked.rowCount !== 1) throw new Error(`the lock statement locked ${locked.rowCount} rows, not 1`);
    for (let i = 0; i < calls.length; i++) clients.push(await db.auth.connect());
    const pids: number[] = [];
    for (const c of clients) {
      await c.query('begin');
      await c.query(`set local role ${role}`);
      await fastBcrypt(c);
      pids.push((await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid);
    }
    const racing = Promise.all(
      calls.map(async (call, i): Promise<Outcome<T>> => {
        const c = clients[i]!;
        try {
          const value = await call(c);
          await c.query('commit');
          return { value };
        } catch (error) {
          await c.query('rollback').catch(() => {});
          return { error: error as { code?: string; message: string } };
        }
      }),
    );
    for (let waited = 0; ; waited += 10) {
      const { rows } = await db.root.query("select count(*)::int as n from pg_stat_activity where pid = any($1) and wait_event_type = 'Lock'", [pids]);
      if (rows[0].n === calls.length) break;
      if (waited > 5000) throw new Error('the calls never all waited on the lock');
      await new Promise((r) => setTimeout(r, 10));
    }
    await blocker.query('commit');
    return await racing;
  } finally {
    await blocker.query('rollback').catch(() => {});
    blocker.release();
    for (const c of clients) c.release();
  }
}
