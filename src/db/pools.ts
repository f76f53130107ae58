import pg from 'pg';
import type { Config } from '../config.ts';

/**
 * Connection settings that bound every statement: PostgreSQL cancels a statement, a lock wait or an
 * idle transaction past these, so no request holds a connection or a lock for long.
 */
export function timeoutSettings(
  statementMs: number,
  config: Config,
): Pick<pg.PoolConfig, 'statement_timeout' | 'lock_timeout' | 'idle_in_transaction_session_timeout'> {
  return {
    statement_timeout: statementMs,
    lock_timeout: config.timeouts.lock,
    idle_in_transaction_session_timeout: config.timeouts.idleInTransaction,
  };
}

export interface ApiPoolSet {
  readonly graphql: pg.Pool;
  readonly session: pg.Pool;
  readonly health: pg.Pool;
  end(): Promise<void>;
}

/**
 * The API's pools, all as the authenticator: GraphQL; a small one for the per-request session
 * check and the rate limiter; and one connection for the health check, so that a flood of either
 * kind of request cannot make a healthy server look down.
 */
export function makeApiPools(config: Config, authUrl: string, onError: (error: Error) => void, sizes = { graphql: 10, session: 3 }): ApiPoolSet {
  const make = (max: number) => {
    const pool = new pg.Pool({ connectionString: authUrl, max, connectionTimeoutMillis: 5000, ...timeoutSettings(config.timeouts.statement, config) });
    pool.on('error', onError);
    return pool;
  };
  const graphql = make(sizes.graphql);
  const session = make(sizes.session);
  const health = make(1);
  return { graphql, session, health, end: async () => void (await Promise.all([graphql.end(), session.end(), health.end()])) };
}
