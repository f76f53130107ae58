import { createSecretKey, type KeyObject } from 'node:crypto';
import type { Config } from '../config.ts';

const keys = new WeakMap<Config, KeyObject>();

/**
 * JWT_SECRET as a KeyObject, made once. Given a string, jsonwebtoken first tries to read it as a
 * public key and builds the secret key only after that throws, on every verification.
 */
export function jwtKey(config: Config): KeyObject {
  let key = keys.get(config);
  if (key === undefined) {
    key = createSecretKey(Buffer.from(config.jwtSecret, 'utf8'));
    keys.set(config, key);
  }
  return key;
}
