import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export interface SigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** An Ed25519 private key, PKCS#8 as PEM or as base64 DER; throws for anything else. */
export function parseSigningKey(text: string): KeyObject {
  const trimmed = text.trim();
  const privateKey = trimmed.startsWith('-----BEGIN')
    ? createPrivateKey(trimmed)
    : createPrivateKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'pkcs8' });
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
  return privateKey;
}

/**
 * The Ed25519 key from LMS_CERT_SIGNING_KEY (checked when the configuration loads). It takes the
 * two settings rather than the Config type, because config.ts imports parseSigningKey from here.
 */
export function signingKey(config: { readonly certSigningKey: string; readonly certKeyId: string }): SigningKey {
  const privateKey = parseSigningKey(config.certSigningKey);
  return { keyId: config.certKeyId, privateKey, publicKey: createPublicKey(privateKey) };
}

/** Ed25519 signature of the canonical claims, base64url. */
export function signClaims(key: SigningKey, canonicalClaims: string): string {
  return sign(null, Buffer.from(canonicalClaims, 'utf8'), key.privateKey).toString('base64url');
}

export function verifyClaims(publicKey: KeyObject, canonicalClaims: string, signature: string): boolean {
  return verify(null, Buffer.from(canonicalClaims, 'utf8'), publicKey, Buffer.from(signature, 'base64url'));
}

/** The public key as a JWK (OKP, Ed25519), for /.well-known/coursebase-certificate-keys.json. */
export function publicJwk(key: SigningKey): Record<string, string> {
  return { ...(key.publicKey.export({ format: 'jwk' }) as Record<string, string>), kid: key.keyId, alg: 'EdDSA', use: 'sig' };
}
