import { GraphQLError } from 'postgraphile/graphql';
import { defaultMaskError } from 'postgraphile/grafserv';
import { isClientErrorCode } from '../errors.ts';

/**
 * Passes errors a client can act on through with their code in `extensions.code`; everything
 * else gets grafserv's default mask (a generic message, logged server-side with an id).
 */
export function maskError(error: GraphQLError): GraphQLError {
  const original = error.originalError as (Error & { code?: unknown }) | undefined;
  if (original && !(original instanceof GraphQLError) && isClientErrorCode(original.code)) {
    return new GraphQLError(original.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: original,
      extensions: { code: original.code },
    });
  }
  return defaultMaskError(error);
}
