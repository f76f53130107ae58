import type { NextFunction, Request, Response } from 'express';
import { GraphQLError, parse, type DocumentNode } from 'postgraphile/graphql';
import type { OperationLimits } from '../config.ts';
import { sendError } from '../errors.ts';

/** The parsed document of each GraphQL request, for the middleware after this one. */
const documents = new WeakMap<Request, DocumentNode>();

export function documentOf(req: Request): DocumentNode | undefined {
  return documents.get(req);
}

// graphql-js's wording when `maxTokens` stops the parser.
const TOKEN_LIMIT = /contains more th(?:an|at) \d+ tokens/;

/**
 * Parses the operation once, with a token limit, before anything else reads it: a document
 * over the limit is refused before the cost of parsing, validating or planning it grows with
 * its size. The rules that need the schema run later, as validation rules.
 */
export function parseGraphQLRequest(limits: OperationLimits) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const query: unknown = req.body?.query;
    // grafserv answers a body without a query string itself; nothing runs.
    if (typeof query !== 'string') return next();
    try {
      documents.set(req, parse(query, { maxTokens: limits.maxTokens, noLocation: false }));
      next();
    } catch (error) {
      const message = error instanceof GraphQLError ? error.message : 'The GraphQL document cannot be parsed.';
      if (TOKEN_LIMIT.test(message)) {
        sendError(res, 'QUERY_TOO_LARGE', `The GraphQL document has more than ${limits.maxTokens} tokens.`);
      } else {
        sendError(res, 'GRAPHQL_PARSE_FAILED', message);
      }
    }
  };
}
