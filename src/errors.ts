import type { Response } from 'express';

/*
 * Every error code a client can receive, declared once. The message is written where the error
 * is raised: SQL raises a custom SQLSTATE with its message; identity-plugin.ts words the statuses
 * that SQL returns instead of raising (a failure it must record); the limits and the HTTP routes
 * word their own. Here each code only learns how it reaches the client. docs/errors.md
 * describes every code for client developers, and test/db/schema/error-codes.test.ts keeps them in step.
 */

/** Custom SQLSTATEs, passed through to the client as a GraphQL error's `extensions.code`. */
export const CUSTOM_ERROR_CODES = codeSet([
  'NOAUT',
  'FRBDN',
  'NTFND',
  'INVAL',
  'CREDS',
  'LOCKD',
  'DISBL',
  'MFARQ',
  'MFABD',
  'MFAON',
  'MFAOF',
  'TKEXP',
  'TKROT',
  'TKRUS',
  'EMTKN',
  'WEAKP',
  'PAYRQ',
  'ATMAX',
  'ATDON',
  'ATLAT',
  'WATCH',
  'STATE',
] as const);

export type CustomErrorCode = keyof typeof CUSTOM_ERROR_CODES;

/**
 * PostgreSQL's own SQLSTATEs that describe the client's input rather than a server fault, passed
 * through likewise: not-null, foreign-key, unique and check violations; a string too long, a number
 * out of range, an unreadable date, a malformed value (such as a UUID); insufficient privilege.
 */
export const PASSED_POSTGRES_CODES = codeSet(['23502', '23503', '23505', '23514', '22001', '22003', '22007', '22P02', '42501'] as const);

/** Limits on an operation, reported as GraphQL errors before it is planned or run. */
export const GRAPHQL_LIMIT_CODES = codeSet([
  'QUERY_TOO_DEEP',
  'TOO_MANY_ALIASES',
  'TOO_MANY_DIRECTIVES',
  'QUERY_TOO_BROAD',
  'QUERY_TOO_COSTLY',
  'PAGE_SIZE_TOO_LARGE',
  'INTROSPECTION_DISABLED',
  'PLANNING_TIMEOUT',
  'EXECUTION_TIMEOUT',
] as const);

/** Errors that Express sends before GraphQL runs, and their HTTP status. */
export const HTTP_ERROR_CODES = {
  INVALID_TOKEN: 401,
  PAYLOAD_TOO_LARGE: 413,
  BAD_REQUEST: 400,
  INVALID_SIGNATURE: 400,
  GRAPHQL_PARSE_FAILED: 400,
  QUERY_TOO_LARGE: 400,
  INVALID_PATH: 400,
  NOT_FOUND: 404,
  ACCOUNT_DISABLED: 401,
  RATE_LIMITED: 429,
  SERVER_BUSY: 503,
  DATABASE_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  INTERNAL_ERROR: 500,
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES;

/** A lookup object keyed by code, so that `Object.hasOwn` and `keyof` work on the lists above. */
function codeSet<const C extends readonly string[]>(codes: C): { readonly [K in C[number]]: true } {
  return Object.fromEntries(codes.map((code) => [code, true])) as { [K in C[number]]: true };
}

export function isClientErrorCode(code: unknown): code is string {
  return (
    typeof code === 'string' &&
    (Object.hasOwn(CUSTOM_ERROR_CODES, code) || Object.hasOwn(PASSED_POSTGRES_CODES, code) || Object.hasOwn(GRAPHQL_LIMIT_CODES, code))
  );
}

interface ErrorBody {
  errors: Array<{ message: string; extensions: { code: string } }>;
}

function errorBody(code: HttpErrorCode, message: string): ErrorBody {
  return { errors: [{ message, extensions: { code } }] };
}

/** Answers with an HTTP-level error: the code's status and the GraphQL-shaped body clients parse. */
export function sendError(res: Response, code: HttpErrorCode, message: string): void {
  res.status(HTTP_ERROR_CODES[code]).json(errorBody(code, message));
}
