import { CompactEncrypt, SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { createClock } from '@tokengate/test-fixtures/clock';

/** A signing or encryption key pair as JWKs, with the private side kept for minting. */
export interface KeyPair {
  alg: string;
  publicJwk: JWK;
  privateJwk: JWK;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

async function pair(alg: string, kid: string, use: 'sig' | 'enc', crv?: string): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, crv });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use };
  return { alg, publicJwk, privateJwk, privateKey, publicKey };
}

/** Keys generated once per test file. */
export async function generateTestKeys() {
  const [rs256, ps256, es256, es384, eddsa, rsaOaep, ecdh, ecdhKw] = await Promise.all([
    pair('RS256', 'rs-1', 'sig'),
    pair('PS256', 'ps-1', 'sig'),
    pair('ES256', 'es-1', 'sig'),
    pair('ES384', 'es384-1', 'sig'),
    pair('EdDSA', 'ed-1', 'sig', 'Ed25519'),
    pair('RSA-OAEP-256', 'enc-rsa-1', 'enc'),
    pair('ECDH-ES', 'enc-ec-1', 'enc', 'P-256'),
    pair('ECDH-ES+A256KW', 'enc-eckw-1', 'enc', 'P-256'),
  ]);
  return { rs256, ps256, es256, es384, eddsa, rsaOaep, ecdh, ecdhKw };
}

export type TestKeys = Awaited<ReturnType<typeof generateTestKeys>>;

export const ISSUER = 'https://issuer.example.com/';
export const AUDIENCE = 'api://orders';
export const NOW = 1_800_000_000;

/** A claim set that passes every check at NOW. */
export function validClaims(extra: JWTPayload = {}): JWTPayload {
  return { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: NOW - 10, exp: NOW + 600, ...extra };
}

/** Signs claims as a compact JWS (header fields may be overridden). */
export async function sign(
  key: KeyPair,
  claims: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.publicJwk.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

/** Encrypts a plaintext (an inner JWS, or claims) to a receiver key as a compact JWE. */
export async function encrypt(
  to: KeyPair,
  plaintext: string,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({
      alg: to.alg,
      enc: 'A256GCM',
      kid: to.publicJwk.kid,
      cty: 'JWT',
      ...header,
    })
    .encrypt(to.publicKey);
}

/** Replaces one segment of a compact token. */
export function withSegment(token: string, index: number, segment: string): string {
  const parts = token.split('.');
  parts[index] = segment;
  return parts.join('.');
}

/** base64url of a JSON value. */
export function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * A controllable clock in epoch seconds that is itself the `now` option: the fixtures' clock
 * (`@tokengate/test-fixtures/clock`) as a callable.
 */
export function fakeClock(start = NOW) {
  const clock = createClock(start);
  return Object.assign(() => clock.now(), { advance: clock.advance, set: clock.set });
}
