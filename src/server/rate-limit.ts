import type pg from 'pg';
import type { NextFunction, Request, Response } from 'express';
import { Kind, parse, type DocumentNode, type SelectionSetNode } from 'postgraphile/graphql';
import { errorBody } from '../errors.ts';

/** The mutations limited per client IP; their limits are rows of lms_private.rate_limits. */
export const RATE_LIMITED_FIELDS = ['register', 'login', 'requestPasswordReset', 'resetPassword', 'resendVerificationEmail', 'verifyEmail'];

function rootMutationFields(document: DocumentNode, operationName: unknown): string[] {
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const operation = typeof operationName === 'string' ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  if (!operation || operation.operation !== 'mutation') return [];
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));
  const seen = new Set<string>();
  const collect = (set: SelectionSetNode): string[] =>
    set.selections.flatMap((s) => {
      if (s.kind === Kind.FIELD) return [s.name.value];
      if (s.kind === Kind.INLINE_FRAGMENT) return collect(s.selectionSet);
      const fragment = fragments.get(s.name.value);
      if (!fragment || seen.has(s.name.value)) return [];
      seen.add(s.name.value);
      return collect(fragment.selectionSet);
    });
  return collect(operation.selectionSet);
}

/**
 * Counts each limited mutation of a request against the client's IP, in its own transaction
 * before the operation runs, so that failed attempts count too; answers HTTP 429 when over.
 */
export function rateLimit(pool: pg.Pool) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const query: unknown = req.body?.query;
    if (typeof query !== 'string' || !RATE_LIMITED_FIELDS.some((f) => query.includes(f))) return next();
    let actions: string[];
    try {
      actions = rootMutationFields(parse(query), req.body.operationName).filter((f) => RATE_LIMITED_FIELDS.includes(f));
    } catch {
      return next();
    }
    if (actions.length === 0) return next();
    try {
      const { rows } = await pool.query<{ exceeded: string | null }>('select lms_private.consume_rate_limit($1, $2) as exceeded', [
        actions,
        req.ip ?? 'unknown',
      ]);
      const exceeded = rows[0]?.exceeded;
      if (exceeded) {
        res.status(429).json(errorBody('RATE_LIMITED', `Too many ${exceeded} requests from this address; try again later.`));
        return;
      }
      next();
    } catch (error) {
      next(error);
    }
  };
}
