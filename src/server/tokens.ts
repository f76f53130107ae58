import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from '../config.ts';
import { jwtKey } from './jwt-key.ts';

export interface AccessClaims {
  readonly userId: string;
  readonly role: string;
  readonly sessionId: string;
}

/** A 15-minute HS256 access token: sub, role, sid (the session), iat, exp, iss, aud, jti. */
export function signAccessToken(config: Config, claims: AccessClaims): string {
  return jwt.sign({ role: claims.role, sid: claims.sessionId }, jwtKey(config), {
    algorithm: 'HS256',
    subject: claims.userId,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    expiresIn: config.accessTokenSeconds,
    jwtid: randomUUID(),
  });
}
