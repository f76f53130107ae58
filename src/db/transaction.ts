import pg from 'pg';

export interface TransactionOptions {
  /** The role to switch to for this transaction (SET LOCAL ROLE); unset keeps the connection's own. */
  readonly role?: string;
  /** Settings for this transaction only (set_config(…, true)): the lms.* and jwt.claims.* that SQL reads. */
  readonly settings?: Readonly<Record<string, string>>;
  readonly readOnly?: boolean;
}

/**
 * Runs fn in one transaction, with the role and settings that SQL expects of its caller, and
 * commits; any error rolls it back and is thrown as it was. Given a pool, it takes a connection
 * of its own and gives it back; given a client (a worker's, a script's), it uses that one.
 */
export function withTransaction<T>(pool: pg.Pool, options: TransactionOptions, fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
export function withTransaction<T, C extends pg.ClientBase>(client: C, options: TransactionOptions, fn: (client: C) => Promise<T>): Promise<T>;
export async function withTransaction<T>(db: pg.Pool | pg.ClientBase, options: TransactionOptions, fn: (client: any) => Promise<T>): Promise<T> {
  if (db instanceof pg.Pool) {
    const client = await db.connect();
    try {
      return await withTransaction(client, options, fn);
    } finally {
      client.release();
    }
  }
  await db.query(options.readOnly ? 'begin read only' : 'begin');
  try {
    if (options.settings && Object.keys(options.settings).length > 0) {
      await db.query('select set_config(key, value, true) from json_each_text($1)', [JSON.stringify(options.settings)]);
    }
    if (options.role !== undefined) await db.query(`set local role ${db.escapeIdentifier(options.role)}`);
    const result = await fn(db);
    await db.query('commit');
    return result;
  } catch (error) {
    // A failed rollback (the connection is gone) must not hide the error that caused it.
    await db.query('rollback').catch(() => {});
    throw error;
  }
}
