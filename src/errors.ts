/**
 * Error codes a client can act on. SQL raises the custom ones with `errcode`; the API passes
 * them (and the listed PostgreSQL ones) through as `extensions.code`, and masks the rest.
 * README.md has the same table for client developers; a test keeps the three in step.
 */
export const CUSTOM_ERROR_CODES = {
  NOAUT: 'Authentication required: sign in and send the access token.',
  FRBDN: 'Forbidden: the signed-in user may not do this.',
  NTFND: 'Not found, or not visible to the signed-in user.',
  INVAL: 'Invalid input; the message says which.',
  CREDS: 'Invalid credentials: the email or password is wrong (the same answer for both).',
  LOCKD: 'Sign-ins for this email from this address are locked for 15 minutes after 5 failures (the same answer whether or not an account has the email).',
  DISBL: 'The account is deactivated.',
  MFARQ: 'MFA is on: send mfaCode (a TOTP code or a recovery code) with the login.',
  MFABD: 'The MFA code is wrong or already used.',
  MFAON: 'MFA is already on; disable it before enrolling again.',
  MFAOF: 'MFA is not on.',
  TKEXP: 'The token or link is invalid, used or expired.',
  TKROT: 'This refresh token was rotated a moment ago (another tab refreshed); use the newer one.',
  TKRUS: 'A refresh token was reused after rotation: every session of the account was ended; sign in again.',
  EMTKN: 'An account with this email address already exists.',
  WEAKP: 'The password is too weak: 10 characters at least, 72 bytes at most.',
  PAYRQ: 'Payment required: the course has a price.',
  ATMAX: 'No attempts left at this quiz.',
  ATDON: 'The quiz attempt was already submitted.',
  ATLAT: "The quiz attempt's time limit has passed.",
  WATCH: "Watch more of the video first: completing it needs the course's share of its duration watched.",
} as const;

/** PostgreSQL's own SQLSTATEs that describe the client's input rather than a server fault. */
export const PASSED_POSTGRES_CODES = {
  '23502': 'not_null_violation: a required value is missing.',
  '23503': 'foreign_key_violation: a referenced row does not exist.',
  '23505': 'unique_violation: the value is already taken.',
  '23514': 'check_violation: a value is outside what the column allows.',
  '22001': 'string_data_right_truncation: a value is too long.',
  '22003': 'numeric_value_out_of_range: a number is too large.',
  '22007': 'invalid_datetime_format: a date or time cannot be read.',
  '22P02': 'invalid_text_representation: a value has the wrong format (for example a malformed UUID).',
  '42501': 'insufficient_privilege: the role may not do this (row-level security or a missing grant).',
} as const;

/** Limits on an operation (README: Limits), reported as GraphQL errors before it is planned or run. */
export const GRAPHQL_LIMIT_CODES = {
  QUERY_TOO_DEEP: 'The operation nests deeper than the depth limit.',
  TOO_MANY_ALIASES: 'The operation uses more aliases than the limit, fragments expanded.',
  TOO_MANY_DIRECTIVES: 'The operation uses more directives than the limit, fragments expanded.',
  QUERY_TOO_BROAD: 'The operation selects more fields than the limit once its fragments are expanded.',
  QUERY_TOO_COSTLY: "The operation's estimated cost (fields weighted by page sizes) is over the limit.",
  PAGE_SIZE_TOO_LARGE: '`first` or `last` is over the maximum page size (or negative); paginate with cursors.',
  INTROSPECTION_DISABLED: 'Introspection is off on this server (production default; LMS_INTROSPECTION turns it on).',
  PLANNING_TIMEOUT: 'The operation took too long to plan and was aborted; simplify it.',
  EXECUTION_TIMEOUT: 'The operation ran past its time budget (or a statement past statement_timeout) and was stopped.',
} as const;

/** HTTP-level codes, sent before GraphQL runs. */
export const HTTP_ERROR_CODES = {
  INVALID_TOKEN: 'HTTP 401: the bearer token is malformed, forged, expired or for another audience.',
  PAYLOAD_TOO_LARGE: 'HTTP 413: the request body is over the limit.',
  BAD_REQUEST: 'HTTP 400: the request body is not valid JSON, or not a GraphQL request.',
  GRAPHQL_PARSE_FAILED: 'HTTP 400: the GraphQL document has a syntax error.',
  QUERY_TOO_LARGE: 'HTTP 400: the GraphQL document has more tokens than the limit.',
  INVALID_PATH: 'HTTP 400: a path parameter (certificate number, file name) is malformed.',
  NOT_FOUND: 'HTTP 404: no such route.',
  ACCOUNT_DISABLED: 'HTTP 401: the access token is valid but its user is deactivated or gone.',
  RATE_LIMITED: 'HTTP 429: too many identity requests from this address; Retry-After says when to try again.',
  SERVER_BUSY: 'HTTP 503: too many credential checks are queued; Retry-After says when to try again.',
  INTERNAL_ERROR: 'HTTP 500: an unexpected server fault, logged with an id.',
} as const;

export function isClientErrorCode(code: unknown): code is string {
  return (
    typeof code === 'string' &&
    (Object.hasOwn(CUSTOM_ERROR_CODES, code) || Object.hasOwn(PASSED_POSTGRES_CODES, code) || Object.hasOwn(GRAPHQL_LIMIT_CODES, code))
  );
}

export interface ErrorBody {
  errors: Array<{ message: string; extensions: { code: string } }>;
}

export function errorBody(code: keyof typeof HTTP_ERROR_CODES, message: string): ErrorBody {
  return { errors: [{ message, extensions: { code } }] };
}
