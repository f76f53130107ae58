import jwt from 'jsonwebtoken';
import type pg from 'pg';
import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../config.ts';
import { sendError } from '../errors.ts';
import { jwtKey } from './jwt-key.ts';

/** The role names we accept, and the PostgreSQL role each one runs as. */
export const ROLE_CLAIMS = {
  student: 'lms_student',
  instructor: 'lms_instructor',
  admin: 'lms_admin',
} as const;
export type RoleClaim = keyof typeof ROLE_CLAIMS;
export const ANONYMOUS_ROLE = 'lms_anonymous';

export interface Identity {
  readonly userId: string;
  readonly role: RoleClaim;
  readonly sessionId: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Verified identities, keyed by request, so that the GraphQL context never holds `req`. */
const identities = new WeakMap<Request, Identity>();

export function identityOf(req: Request): Identity | undefined {
  return identities.get(req);
}

function isRoleClaim(role: unknown): role is RoleClaim {
  return typeof role === 'string' && Object.hasOwn(ROLE_CLAIMS, role);
}

/** Verifies signature (HS256 only), issuer, audience and expiry, and the claims' shapes. */
export function verifyAccessToken(config: Config, token: string): Identity {
  const payload = jwt.verify(token, jwtKey(config), {
    algorithms: ['HS256'],
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    clockTolerance: 5,
  });
  if (typeof payload !== 'object' || payload === null) throw new Error('token payload is not an object');
  const { sub, role, sid } = payload;
  if (typeof sub !== 'string' || !UUID.test(sub)) throw new Error('token subject is not a user id');
  if (!isRoleClaim(role)) throw new Error('token role is not recognised');
  if (typeof payload.exp !== 'number') throw new Error('token has no expiry');
  if (sid !== undefined && (typeof sid !== 'string' || !UUID.test(sid))) throw new Error('token session is not an id');
  return { userId: sub, role, sessionId: sid };
}

function reject(res: Response, code: 'INVALID_TOKEN' | 'ACCOUNT_DISABLED', message: string): void {
  sendError(res.set('WWW-Authenticate', 'Bearer error="invalid_token"'), code, message);
}

/**
 * Rejects a present but unusable bearer token with HTTP 401 and a JSON GraphQL error, before
 * grafserv: an error thrown inside grafast's context would become a 500. The user's role and
 * activity are read from the database on every request (one primary-key lookup), so a role
 * change or a deactivation applies to the very next request. No Authorization header means
 * anonymous.
 */
export function authenticate(config: Config, pool: pg.Pool) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.headers.authorization;
    if (header === undefined) return next();
    const match = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*\.[A-Za-z0-9\-_]*)$/.exec(header.trim());
    let claimed: Identity | undefined;
    if (match) {
      try {
        claimed = verifyAccessToken(config, match[1]!);
      } catch {
        claimed = undefined;
      }
    }
    if (claimed === undefined) return reject(res, 'INVALID_TOKEN', 'The access token is invalid or expired; sign in again.');
    try {
      const { rows } = await pool.query<{ role: string | null }>('select lms_private.session_role($1) as role', [claimed.userId]);
      const role = rows[0]?.role;
      if (!isRoleClaim(role)) return reject(res, 'ACCOUNT_DISABLED', 'This account is deactivated or no longer exists.');
      identities.set(req, { ...claimed, role });
      next();
    } catch (error) {
      next(error);
    }
  };
}

export interface RequestFacts {
  readonly identity: Identity | undefined;
  readonly clientIp: string | undefined;
}

/** What PostgreSQL needs to know about the request: its role, the user, the session, the client. */
export function pgSettingsFor(config: Config, { identity, clientIp }: RequestFacts): Record<string, string> {
  const common: Record<string, string> = {
    'lms.bcrypt_cost': String(config.bcryptCost),
    'lms.quiz_grace_seconds': String(config.quizGraceSeconds),
    'lms.past_due_grace_days': String(config.pastDueGraceDays),
  };
  if (clientIp !== undefined) common['lms.client_ip'] = clientIp;
  if (identity === undefined) return { ...common, role: ANONYMOUS_ROLE };
  return {
    ...common,
    role: ROLE_CLAIMS[identity.role],
    'jwt.claims.user_id': identity.userId,
    'jwt.claims.role': identity.role,
    ...(identity.sessionId === undefined ? {} : { 'jwt.claims.session_id': identity.sessionId }),
  };
}
