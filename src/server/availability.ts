import type { NextFunction, Request, Response } from 'express';
import type pg from 'pg';
import { sendError } from '../errors.ts';

/** Seconds a client is told to wait (Retry-After) while the database is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** Nobody listens, or the name does not resolve: no need to ask again. */
const REFUSED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

function errorCode(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}

/** A connection that took too long to open: a slow or overloaded database as much as a missing one. */
function isConnectTimeout(error: Error): boolean {
  return errorCode(error) === 'ETIMEDOUT' || /timeout/i.test(error.message);
}

/**
 * Errors that say the database cannot be reached or has gone away, rather than that one
 * statement failed: refused or timed-out connections, a server shutting down or starting
 * (57P01-57P03), a lost connection (class 08), and node-postgres's own words for a cut socket.
 */
export function isConnectionError(candidate: unknown): boolean {
  // Not `instanceof Error`: errors from Node's own modules come from another realm under jest's vm.
  if (typeof candidate !== 'object' || candidate === null || typeof (candidate as Error).message !== 'string') return false;
  const error = candidate as Error;
  const code = errorCode(error);
  if (['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'].includes(code)) return true;
  if (/^57P0[123]$/.test(code) || code.startsWith('08')) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(error.message);
}

/**
 * Whether the API's database answers, as the API has seen it. Down on the first refused
 * connect, or on a cut connection once a probe confirms it (a pool's error event, a failed
 * connect, an error in a request); while down, requests
 * get 503 DATABASE_UNAVAILABLE without touching the database, and a probe on the health
 * check's pool asks every second until it answers. One log line when it goes, one when it is back.
 */
export class DatabaseAvailability {
  private downSince: number | undefined;
  private probing: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly probePool: pg.Pool;
  private readonly log: (line: string) => void;
  private readonly probeIntervalMs: number;
  constructor(probePool: pg.Pool, log: (line: string) => void, probeIntervalMs = 1000) {
    this.probePool = probePool;
    this.log = log;
    this.probeIntervalMs = probeIntervalMs;
  }

  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  /**
   * Reports an error; returns whether it was a connection error. A refused, cut or shut-down
   * connection marks the database down for every request; a connect that only timed out does
   * not (on a loaded machine a slow connect is not an outage).
   */
  failed(error: unknown): boolean {
    if (!isConnectionError(error)) return false;
    if (isConnectTimeout(error as Error) || this.downSince !== undefined || this.closed) return true;
    // A refused connect is the database itself saying no. A cut connection may be one session
    // ended on its own (pg_terminate_backend, an idle timeout): ask the database before saying down.
    if (REFUSED.has(errorCode(error as Error))) this.markDown(error as Error);
    else void this.confirm(error as Error);
    return true;
  }

  private markDown(error: Error): void {
    if (this.downSince !== undefined || this.closed) return;
    this.downSince = Date.now();
    this.log(`database unavailable (${error.message}); answering 503 DATABASE_UNAVAILABLE until it is back`);
    this.probing = setInterval(() => void this.probe(), this.probeIntervalMs);
    this.probing.unref();
  }

  private confirming = false;
  private async confirm(error: Error): Promise<void> {
    if (this.confirming) return;
    this.confirming = true;
    try {
      await this.probePool.query('select 1');
    } catch (probeError) {
      if (isConnectionError(probeError) && !isConnectTimeout(probeError as Error)) this.markDown(error);
    } finally {
      this.confirming = false;
    }
  }

  /** A query that answered: the database is back, if it was down. */
  answered(): void {
    if (this.downSince === undefined) return;
    this.log(`database available again after ${((Date.now() - this.downSince) / 1000).toFixed(1)} s`);
    this.downSince = undefined;
    clearInterval(this.probing);
  }

  private async probe(): Promise<void> {
    try {
      await this.probePool.query('select 1');
      this.answered();
    } catch {
      // Still down: said once already.
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.probing);
  }
}

export function sendDatabaseUnavailable(res: Response): void {
  res.setHeader('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
  sendError(res, 'DATABASE_UNAVAILABLE', 'The database is unavailable; retry shortly.');
}

/**
 * Before a route that needs the database: 503 at once while it is known to be down. When the
 * pool would have to open a connection for this request anyway (none idle, room for one), open
 * it here and hand it back, so that the first request of an unnoticed outage learns of it as a
 * 503 rather than as a masked error in a 200.
 */
export function requireDatabase(availability: DatabaseAvailability, pool: pg.Pool) {
  return async (_req: Request, res: Response, next: NextFunction) => {
    if (availability.isDown) return sendDatabaseUnavailable(res);
    if (pool.idleCount === 0 && pool.totalCount < (pool.options.max ?? 10)) {
      try {
        (await pool.connect()).release();
      } catch (error) {
        availability.failed(error);
        // Refused or cut: the database is down, say so. Anything else (a connect that only timed
        // out on a loaded machine, a bad password) is the request's to meet, as it was before.
        if (availability.isDown) return sendDatabaseUnavailable(res);
      }
    }
    next();
  };
}
