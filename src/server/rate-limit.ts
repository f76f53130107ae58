import type pg from 'pg';
import type { NextFunction, Request, Response } from 'express';
import pLimit from 'p-limit';
import { Kind, OperationTypeNode, type DocumentNode, type SelectionSetNode } from 'postgraphile/graphql';
import { sendError } from '../errors.ts';
import { clientKey } from './client-address.ts';
import { documentOf } from './graphql-request.ts';

/** The mutations limited per client; their limits are rows of lms_private.rate_limits. */
export const RATE_LIMITED_FIELDS: ReadonlySet<string> = new Set([
  'register',
  'login',
  'requestPasswordReset',
  'resetPassword',
  'resendVerificationEmail',
  'verifyEmail',
]);

/**
 * The limited fields the operation would run, one per response key, whatever directives they
 * carry: `@skip(if: $x)` must not hide a login from the count. The walk is iterative and visits
 * each fragment once, so no document can exhaust it.
 */
export function limitedActions(document: DocumentNode, operationName: unknown): string[] {
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const operation =
    typeof operationName === 'string' && operationName !== ''
      ? operations.find((o) => o.name?.value === operationName)
      : operations.length === 1
        ? operations[0]
        : undefined;
  // No operation to run means grafserv refuses the request: there is nothing to count.
  if (!operation || operation.operation !== OperationTypeNode.MUTATION) return [];
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));
  const actions = new Map<string, string>();
  const visited = new Set<string>();
  const pending: SelectionSetNode[] = [operation.selectionSet];
  for (let set = pending.pop(); set; set = pending.pop()) {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (RATE_LIMITED_FIELDS.has(selection.name.value)) actions.set(selection.alias?.value ?? selection.name.value, selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        pending.push(selection.selectionSet);
      } else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) pending.push(fragment.selectionSet);
      }
    }
  }
  return [...actions.values()];
}

export interface RateLimitOptions {
  /** Identity operations hash passwords with bcrypt in SQL: this many run at once. */
  readonly maxConcurrent: number;
  /** Beyond this many waiting, a request is refused (503) rather than queued. */
  readonly maxQueued: number;
}

/**
 * Counts each limited mutation of a request against the client's address (IPv6 by /64), in its
 * own transaction before the operation runs, so that failed attempts count too; over the limit,
 * HTTP 429 with Retry-After and RateLimit headers. Limited requests then wait for one of a few
 * slots, so a flood of logins queues instead of taking every database connection.
 */
export function rateLimit(pool: pg.Pool, options: RateLimitOptions) {
  const slots = pLimit(options.maxConcurrent);
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const document = documentOf(req);
    const actions = document ? limitedActions(document, req.body?.operationName) : [];
    if (actions.length === 0) return next();
    if (slots.pendingCount >= options.maxQueued) {
      sendError(res.set('Retry-After', '1'), 'SERVER_BUSY', 'Too many sign-in requests are waiting; try again in a moment.');
      return;
    }
    try {
      const key = clientKey(req.ip);
      const { rows } = await pool.query<{ exceeded: string | null }>('select lms_private.consume_rate_limit($1, $2) as exceeded', [actions, key]);
      const exceeded = rows[0]?.exceeded;
      if (exceeded) {
        const window = await pool.query<{ max_hits: number; retry_after_seconds: number }>(
          'select max_hits, retry_after_seconds from lms_private.rate_limit_window($1)',
          [exceeded],
        );
        const { max_hits: limit, retry_after_seconds: retryAfter } = window.rows[0]!;
        const headers = {
          'Retry-After': String(retryAfter),
          'RateLimit-Limit': String(limit),
          'RateLimit-Remaining': '0',
          'RateLimit-Reset': String(retryAfter),
        };
        sendError(res.set(headers), 'RATE_LIMITED', `Too many ${exceeded} requests from this address; try again in ${retryAfter} s.`);
        return;
      }
    } catch (error) {
      return next(error);
    }
    await slots(
      () =>
        new Promise<void>((resolve) => {
          res.once('close', resolve);
          next();
        }),
    );
  };
}
