import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { CompactEncrypt } from 'jose';

export const AUDIENCE = 'api://bench';

const KEY_TYPES = {
  RS256: ['rsa', { modulusLength: 2048 }],
  ES256: ['ec', { namedCurve: 'P-256' }],
  EdDSA: ['ed25519', {}],
};

/** A signing key pair for `alg`, with its public JWK (kid, alg, use) ready for a JWKS. */
export function signingKey(alg, kid = `${alg.toLowerCase()}-1`) {
  if (alg === 'HS256') {
    const secret = randomBytes(32);
    const jwk = { kty: 'oct', k: secret.toString('base64url'), kid, alg, use: 'sig' };
    return { alg, kid, secret, jwk };
  }
  const [type, options] = KEY_TYPES[alg];
  const { privateKey, publicKey } = generateKeyPairSync(type, options);
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, jwk };
}

/** A receiver's decryption key pair (RSA-OAEP-256 or ECDH-ES on P-256) and its private JWK. */
export function encryptionKey(kind, kid = `${kind}-enc-1`) {
  const { privateKey, publicKey } =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid, use: 'enc' };
  return { kind, kid, privateKey, publicKey, privateJwk };
}

const segment = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Typical access-token claims; `pad` lengthens the token (to compare caches at equal length). */
export function claims(i, issuer, { now = Math.floor(Date.now() / 1000), pad } = {}) {
  return {
    iss: issuer,
    aud: AUDIENCE,
    sub: `user-${i}`,
    client_id: 'bench-client',
    scope: 'orders:read orders:write',
    iat: now,
    exp: now + 3600,
    jti: `jti-${i}-${now}`,
    ...(pad && { pad }),
  };
}

/** Signs a compact JWS with node:crypto directly (minting thousands of tokens must be quick). */
export function mint(key, payload, header = {}) {
  const input = `${segment({ alg: key.alg, typ: 'JWT', kid: key.kid, ...header })}.${segment(payload)}`;
  const data = Buffer.from(input);
  let signature;
  switch (key.alg) {
    case 'RS256':
      signature = sign('sha256', data, key.privateKey);
      break;
    case 'ES256':
      signature = sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
      break;
    case 'EdDSA':
      signature = sign(null, data, key.privateKey);
      break;
    case 'HS256':
      signature = createHmac('sha256', key.secret).update(data).digest();
      break;
    default:
      throw new Error(`cannot mint ${key.alg}`);
  }
  return `${input}.${signature.toString('base64url')}`;
}

/** The same token with one signature bit flipped: every verifier must refuse it. */
export function tamper(token) {
  const dot = token.lastIndexOf('.');
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  signature[signature.length >> 1] ^= 1;
  return `${token.slice(0, dot + 1)}${signature.toString('base64url')}`;
}

/** A nested token: the signed JWT encrypted to the receiver (cty JWT, RFC 7519 §5.2). */
export async function nest(innerToken, encKey) {
  const alg = encKey.kind === 'rsa' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW';
  return new CompactEncrypt(Buffer.from(innerToken))
    .setProtectedHeader({ alg, enc: 'A256GCM', cty: 'JWT', kid: encKey.kid })
    .encrypt(encKey.publicKey);
}

/**
 * `count` distinct HS256 tokens padded to `length` characters, so cache rows use tokens as long
 * as an RS256 one while minting 100,000 of them stays cheap (a hit costs the same for any alg).
 */
export function hmacTokens(key, issuer, count, length) {
  const probe = mint(key, claims(0, issuer));
  const pad = 'x'.repeat(Math.max(0, Math.floor(((length - probe.length) * 3) / 4) - 10));
  const now = Math.floor(Date.now() / 1000);
  const tokens = new Array(count);
  for (let i = 0; i < count; i++) tokens[i] = mint(key, claims(i, issuer, { now, pad }));
  return tokens;
}
