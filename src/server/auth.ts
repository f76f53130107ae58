import jwt from 'jsonwebtoken';
import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../config.ts';
import { errorBody } from '../errors.ts';

/** The JWT role claims we accept, and the PostgreSQL role each one runs as. */
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
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Verified identities, keyed by request, so that the GraphQL context never holds `req`. */
const identities = new WeakMap<Request, Identity>();

export function identityOf(req: Request): Identity | undefined {
  return identities.get(req);
}

export function verifyAccessToken(config: Config, token: string): Identity {
  const payload = jwt.verify(token, config.jwtSecret, {
    algorithms: ['HS256'],
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    clockTolerance: 5,
  });
  if (typeof payload !== 'object' || payload === null) throw new Error('token payload is not an object');
  const { sub, role } = payload;
  if (typeof sub !== 'string' || !UUID.test(sub)) throw new Error('token subject is not a user id');
  if (typeof role !== 'string' || !Object.hasOwn(ROLE_CLAIMS, role)) throw new Error('token role is not recognised');
  if (typeof payload.exp !== 'number') throw new Error('token has no expiry');
  return { userId: sub, role: role as RoleClaim };
}

/**
 * Rejects a present but unusable bearer token with HTTP 401 and a JSON GraphQL error, before
 * grafserv: an error thrown inside grafast's context would become a 500.
 * No Authorization header means anonymous.
 */
export function authenticate(config: Config) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization;
    if (header === undefined) return next();
    const match = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*\.[A-Za-z0-9\-_]*)$/.exec(header.trim());
    let identity: Identity | undefined;
    if (match) {
      try {
        identity = verifyAccessToken(config, match[1]!);
      } catch {
        identity = undefined;
      }
    }
    if (identity === undefined) {
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer error="invalid_token"')
        .json(errorBody('INVALID_TOKEN', 'The access token is invalid or expired; sign in again.'));
      return;
    }
    identities.set(req, identity);
    next();
  };
}

/** What PostgreSQL needs to know about the request: its role and the user's id. */
export function pgSettingsFor(identity: Identity | undefined): Record<string, string> {
  if (identity === undefined) return { role: ANONYMOUS_ROLE };
  return {
    role: ROLE_CLAIMS[identity.role],
    'jwt.claims.user_id': identity.userId,
    'jwt.claims.role': identity.role,
  };
}
