import { GraphQLError } from 'postgraphile/graphql';
import { defaultMaskError } from 'postgraphile/grafserv';
import { SafeError } from 'postgraphile/grafast';
import { isClientErrorCode } from '../errors.ts';

/** PostgreSQL cancelled the statement: statement_timeout (57014) or lock_timeout (55P03). */
const TIMED_OUT = new Set(['57014', '55P03']);

function coded(error: GraphQLError, message: string, code: string): GraphQLError {
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { code },
  });
}

/**
 * Passes errors a client can act on through with their code in `extensions.code`; everything
 * else gets grafserv's default mask (a generic message, logged server-side with an id).
 */
export function maskError(error: GraphQLError, onDatabaseError: (error: unknown) => void = () => {}): GraphQLError {
  const original = error.originalError as (Error & { code?: unknown; extensions?: { code?: unknown } }) | undefined;
  if (original && !(original instanceof GraphQLError)) {
    // The database went away during this operation: the next requests learn it as 503 DATABASE_UNAVAILABLE.
    onDatabaseError(original);
    if (isClientErrorCode(original.code)) return coded(error, original.message, original.code);
    if (TIMED_OUT.has(String(original.code))) {
      return coded(error, 'The operation took too long and was stopped; try a smaller request.', 'EXECUTION_TIMEOUT');
    }
    if (original instanceof SafeError && /took too long to plan/.test(original.message)) {
      return coded(error, original.message, 'PLANNING_TIMEOUT');
    }
  }
  return defaultMaskError(error);
}
