import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { DEV_ROLE_PASSWORDS, withCredentials } from '../../src/db/connections.ts';
import { pgSettingsFor } from '../../src/server/auth.ts';
import { withTransaction } from '../../src/db/transaction.ts';
import { superuserUrl, withClient } from '../../src/db/scratch-cluster.ts';

/** The migrated database that global-setup.ts creates once and every test file clones. */
export const TEMPLATE_DATABASE = 'coursebase_test_template';

export type RoleClaim = 'student' | 'instructor' | 'admin';
export interface TestUser {
  id: string;
  role: RoleClaim;
}

export interface Transaction {
  readonly client: pg.PoolClient;
  query<R extends pg.QueryResultRow = any>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  becomeRoot(): Promise<void>;
  becomeUser(user: TestUser): Promise<void>;
  becomeAnonymous(): Promise<void>;
}

export interface TestDatabase {
  readonly name: string;
  readonly rootUrl: string;
  readonly ownerUrl: string;
  readonly authUrl: string;
  /** Superuser pool, for setup and for reading what RLS hides. */
  readonly root: pg.Pool;
  /** Authenticator pool: the API's own connection. */
  readonly auth: pg.Pool;
  asRoot<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /** One rolled-back transaction that starts as root and can switch roles as it goes. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  asUser<T>(user: TestUser, fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  asAnonymous<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function baseUrl(): string {
  const url = process.env.COURSEBASE_TEST_BASE_URL;
  if (!url) throw new Error('the test cluster is not running (jest globalSetup sets COURSEBASE_TEST_BASE_URL)');
  return url;
}

/**
 * The lms.* settings the API puts in every request (pgSettingsFor), at the default configuration's
 * values. SQL has no defaults of its own, so every test transaction starts with them, as a request
 * does; a test of another value sets its own after.
 */
const { role: _anonymous, ...REQUEST_SETTINGS } = pgSettingsFor(loadConfig({ NODE_ENV: 'test' }), { identity: undefined, clientIp: undefined });
const setRequestSettings = (client: pg.ClientBase) =>
  client.query('select set_config(key, value, true) from json_each_text($1)', [JSON.stringify(REQUEST_SETTINGS)]);

const ROLE_OF: Record<RoleClaim, VisitorRole> = { student: 'lms_student', instructor: 'lms_instructor', admin: 'lms_admin' };

/** Runs fn in a transaction that is always rolled back. */
async function rolledBack<T>(pool: pg.Pool, setup: string[], params: unknown[][], fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await setRequestSettings(client);
    for (const [i, sql] of setup.entries()) await client.query(sql, params[i]);
    return await fn(client);
  } finally {
    await client.query('rollback').catch(() => {});
    client.release();
  }
}

async function cloneTemplate(name: string): Promise<void> {
  await withClient(superuserUrl(baseUrl(), 'postgres'), async (client) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`create database ${client.escapeIdentifier(name)} template ${client.escapeIdentifier(TEMPLATE_DATABASE)}`);
        return;
      } catch (error) {
        // Two workers cloning at once may briefly see the template as in use.
        if ((error as { code?: string }).code !== '55006' || attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
}

/** A database of this test file's own, cloned from the migrated template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `coursebase_test_${process.env.JEST_WORKER_ID ?? '0'}_${randomBytes(4).toString('hex')}`;
  await cloneTemplate(name);
  const rootUrl = superuserUrl(baseUrl(), name);
  const ownerUrl = withCredentials(rootUrl, 'lms_owner', DEV_ROLE_PASSWORDS.lms_owner);
  const authUrl = withCredentials(rootUrl, 'lms_authenticator', DEV_ROLE_PASSWORDS.lms_authenticator);
  const root = new pg.Pool({ connectionString: rootUrl, max: 4 });
  const auth = new pg.Pool({ connectionString: authUrl, max: 4 });
  // pool.end() resolves before its sockets close; the forced drop below may then reach an idle
  // connection (57P01), which is expected here and nowhere else.
  for (const pool of [root, auth]) {
    pool.on('error', (error: Error & { code?: string }) => {
      if (error.code !== '57P01') console.error('idle test connection failed', error);
    });
  }
  return {
    name,
    rootUrl,
    ownerUrl,
    authUrl,
    root,
    auth,
    asRoot: (fn) => rolledBack(root, [], [], fn),
    transaction: (fn) =>
      rolledBack(root, [], [], (client) =>
        fn({
          client,
          query: (sql, params) => client.query(sql, params),
          async becomeRoot() {
            await client.query("reset role; select set_config('jwt.claims.user_id', '', true)");
          },
          async becomeUser(user) {
            await client.query(`set local role ${ROLE_OF[user.role]}`);
            await client.query("select set_config('jwt.claims.user_id', $1, true)", [user.id]);
          },
          async becomeAnonymous() {
            await client.query("set local role lms_anonymous; select set_config('jwt.claims.user_id', '', true)");
          },
        }),
      ),
    asUser: (user, fn) => rolledBack(auth, [`set local role ${ROLE_OF[user.role]}`, "select set_config('jwt.claims.user_id', $1, true)"], [[], [user.id]], fn),
    asAnonymous: (fn) => rolledBack(auth, ['set local role lms_anonymous'], [[]], fn),
    async close() {
      await Promise.all([root.end(), auth.end()]);
      await withClient(superuserUrl(baseUrl(), 'postgres'), (client) => client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`));
    },
  };
}

/** Runs sql inside a test transaction, expects its SQLSTATE (and message), and carries on after it. */
export async function expectCode(tx: Transaction, sql: string, params: unknown[], code: string, message?: RegExp): Promise<void> {
  await tx.query('savepoint expect_code');
  try {
    await expect(tx.query(sql, params)).rejects.toMatchObject(message ? { code, message: expect.stringMatching(message) } : { code });
  } finally {
    await tx.query('rollback to savepoint expect_code');
  }
}

/** A pool, a client or a test transaction: anything that runs a query. */
export interface Queryable {
  query<R extends pg.QueryResultRow = any>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** A rolled-back test transaction, or a superuser pool for committed setup. */
export type Db = Transaction | Queryable;

function isTransaction(db: Db): db is Transaction {
  return typeof (db as Transaction).becomeUser === 'function';
}

/**
 * Superuser work: on a pool, as it is; inside a test transaction, as root, then back to the role
 * and user claim the transaction had, so a test can set things up mid-scenario without losing who it is.
 */
export async function asRoot<T>(db: Db, fn: (q: Queryable) => Promise<T>): Promise<T> {
  if (!isTransaction(db)) return fn(db);
  const { rows } = await db.query<{ role: string; root: boolean; uid: string }>(
    "select current_user::text as role, current_user = session_user as root, coalesce(current_setting('jwt.claims.user_id', true), '') as uid",
  );
  const was = rows[0]!;
  if (was.root) return fn(db.client);
  await db.query('reset role');
  // Not in a finally: after an error the transaction is aborted, and the error is what matters.
  const result = await fn(db.client);
  await db.query(`set local role ${db.client.escapeIdentifier(was.role)}`);
  await db.query("select set_config('jwt.claims.user_id', $1, true)", [was.uid]);
  return result;
}

export type VisitorRole = 'lms_anonymous' | 'lms_student' | 'lms_instructor' | 'lms_admin';

export interface Visitor {
  readonly role: VisitorRole;
  readonly userId?: string;
  readonly sessionId?: string;
}

/**
 * One COMMITTED transaction on a pool of the API's connection, like one GraphQL request: as a
 * visitor, as a test user (null: anonymous), with any further lms.* settings the call needs.
 */
export function committedAs<T>(
  pool: pg.Pool,
  who: Visitor | TestUser | null,
  fn: (client: pg.PoolClient) => Promise<T>,
  settings: Record<string, string> = {},
): Promise<T> {
  const visitor: Visitor = who === null ? { role: 'lms_anonymous' } : 'id' in who ? { role: ROLE_OF[who.role], userId: who.id } : who;
  const claims = { 'jwt.claims.user_id': visitor.userId ?? '', 'jwt.claims.session_id': visitor.sessionId ?? '' };
  return withTransaction(pool, { role: visitor.role, settings: { ...REQUEST_SETTINGS, ...claims, ...settings } }, fn);
}
