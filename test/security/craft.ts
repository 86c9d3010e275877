// What an attacker builds by hand: tokens whose every byte the test chooses (raw header and
// payload JSON, any key for any algorithm, hand-made JWEs and a self-signed certificate).
// jose is not used here on purpose: it refuses to produce most of these.
import {
  KeyObject,
  X509Certificate,
  constants,
  createCipheriv,
  createHmac,
  createPublicKey,
  publicEncrypt,
  randomBytes,
  sign as signWithKey,
} from 'node:crypto';
import type { JWK } from 'jose';
import { deflateRawSync } from 'node:zlib';
import { encryption, signing } from '@tokengate/test-fixtures/keys';
import type { EncryptionKeyPair, SigningKeyPair } from '@tokengate/test-fixtures/keys';

/** base64url without padding (RFC 7515 §2). */
export function b64u(data: string | Uint8Array): string {
  return Buffer.from(data).toString('base64url');
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The same bytes, spelled with non-zero unused trailing bits: lenient decoders (Node's, and
 * jose's on Node 20) read it as the original. Throws for a segment without unused bits.
 */
export function nonCanonical(segment: string): string {
  const bytes = Buffer.from(segment, 'base64url');
  for (const c of B64URL) {
    const other = segment.slice(0, -1) + c;
    if (other !== segment && Buffer.from(other, 'base64url').equals(bytes)) return other;
  }
  throw new Error('craft: segment has no unused bits');
}

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/** The private key of a fixture pair as a node:crypto KeyObject. */
export function privateKeyOf(pair: SigningKeyPair): KeyObject {
  return KeyObject.from(pair.privateKey);
}

/** A public JWK as PEM: SPKI (`BEGIN PUBLIC KEY`) or, for RSA, PKCS#1 (`BEGIN RSA PUBLIC KEY`). */
export function publicPem(jwk: JWK, type: 'spki' | 'pkcs1' = 'spki'): string {
  const { kty, n, e, crv, x, y } = jwk;
  const key = createPublicKey({ key: { kty, n, e, crv, x, y } as never, format: 'jwk' });
  return key.export({ type, format: 'pem' }) as string;
}

/**
 * Signs `input` as `alg` with any key: a private KeyObject for RS/PS/ES/EdDSA, a secret (bytes or
 * text) for HS. The key and the algorithm need not fit each other: that is the point.
 */
export function signBytes(
  alg: string,
  key: KeyObject | Uint8Array | string,
  input: string,
): Buffer {
  const data = Buffer.from(input, 'latin1');
  const hash = HASH[alg.slice(-3)];
  if (alg.startsWith('HS'))
    return createHmac(hash!, key as Uint8Array)
      .update(data)
      .digest();
  const k = key as KeyObject;
  if (alg.startsWith('RS')) return signWithKey(hash!, data, k);
  if (alg.startsWith('PS')) {
    return signWithKey(hash!, data, {
      key: k,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    });
  }
  if (alg.startsWith('ES')) return signWithKey(hash!, data, { key: k, dsaEncoding: 'ieee-p1363' });
  if (alg === 'EdDSA' || alg === 'Ed25519') return signWithKey(null, data, k);
  throw new Error(`craft: cannot sign ${alg}`);
}

export interface JwsParts {
  /** The protected header: an object, or the exact JSON text (duplicate members, odd spacing). */
  header: Record<string, unknown> | string;
  /** The payload: an object (JSON), or the exact text/bytes. */
  payload: Record<string, unknown> | string | Uint8Array;
  /** The signing key. Default: the fixture ES256 key. `null` leaves the signature empty. */
  key?: SigningKeyPair | KeyObject | Uint8Array | string | null;
  /** Algorithm used to compute the signature. Default: the header's `alg`. */
  alg?: string;
}

const text = (value: JwsParts['payload']): string | Uint8Array =>
  typeof value === 'string' || value instanceof Uint8Array ? value : JSON.stringify(value);

/** A compact JWS with exactly these bytes in its header and payload. */
export function craftJws({ header, payload, key = signing.es256, alg }: JwsParts): string {
  const headerText = typeof header === 'string' ? header : JSON.stringify(header);
  const signingInput = `${b64u(headerText)}.${b64u(text(payload))}`;
  if (key === null) return `${signingInput}.`;
  const how = alg ?? (JSON.parse(headerText) as { alg: string }).alg;
  const material =
    typeof key === 'object' && 'privateKey' in key ? privateKeyOf(key as SigningKeyPair) : key;
  return `${signingInput}.${b64u(signBytes(how, material, signingInput))}`;
}

/** The header tokengate's fixtures sign with by default: ES256, the published kid, at+jwt. */
export function esHeader(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { alg: 'ES256', kid: signing.es256.kid, typ: 'at+jwt', ...extra };
}

export interface JweParts {
  /** The protected header (`alg` RSA-OAEP-256 or RSA-OAEP; `enc` A256GCM or A128GCM). */
  header: Record<string, unknown> | string;
  plaintext: string | Uint8Array;
  /** Receiver key. Default: the fixture RSA-OAEP-256 key. */
  to?: EncryptionKeyPair;
  /** Deflate the plaintext before encrypting (what `zip: "DEF"` announces). */
  deflate?: boolean;
}

/** A compact JWE (RSA-OAEP key transport, AES-GCM content) with exactly this protected header. */
export function craftJwe({
  header,
  plaintext,
  to = encryption.rsaOaep,
  deflate,
}: JweParts): string {
  const headerText = typeof header === 'string' ? header : JSON.stringify(header);
  const { alg, enc } = JSON.parse(headerText) as { alg: string; enc: string };
  const cekLength = enc === 'A128GCM' ? 16 : 32;
  const cek = randomBytes(cekLength);
  const encryptedKey = publicEncrypt(
    {
      key: KeyObject.from(to.publicKey),
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: alg === 'RSA-OAEP' ? 'sha1' : 'sha256',
    },
    cek,
  );
  const protectedSegment = b64u(headerText);
  const iv = randomBytes(12);
  const cipher = createCipheriv(cekLength === 16 ? 'aes-128-gcm' : 'aes-256-gcm', cek, iv);
  cipher.setAAD(Buffer.from(protectedSegment, 'ascii'));
  const input = Buffer.from(plaintext);
  const body = deflate ? deflateRawSync(input, { level: 9 }) : input;
  const ciphertext = Buffer.concat([cipher.update(body), cipher.final()]);
  return [
    protectedSegment,
    b64u(encryptedKey),
    b64u(iv),
    b64u(ciphertext),
    b64u(cipher.getAuthTag()),
  ].join('.');
}

/** A JWE-shaped token with this header and random (undecryptable) segments. */
export function fakeJwe(header: Record<string, unknown>, encryptedKeyBytes = 256): string {
  return [
    b64u(JSON.stringify(header)),
    b64u(randomBytes(encryptedKeyBytes)),
    b64u(randomBytes(12)),
    b64u(randomBytes(64)),
    b64u(randomBytes(16)),
  ].join('.');
}

// Just enough DER (X.690) for one self-signed certificate.
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const der = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
};
const seq = (...parts: Buffer[]) => der(0x30, ...parts);
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      groups.unshift((v % 128) | (groups.length ? 0x80 : 0));
      if (v < 128) break;
    }
    bytes.push(...groups);
  }
  return der(0x06, Buffer.from(bytes));
}

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const COMMON_NAME = '2.5.4.3';

/**
 * A self-signed X.509 certificate (DER) for an EC P-256 key pair: what an attacker puts in `x5c`
 * or serves at `x5u`. Node parses it and its signature verifies with the key inside.
 */
export function selfSignedCertificate(pair: SigningKeyPair, commonName = 'attacker'): Buffer {
  const publicKey = createPublicKey(privateKeyOf(pair));
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const name = seq(der(0x31, seq(oid(COMMON_NAME), der(0x0c, Buffer.from(commonName)))));
  const algorithm = seq(oid(ECDSA_SHA256));
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), // v3
    der(0x02, Buffer.from([0x01, 0x23, 0x45])),
    algorithm,
    name,
    seq(der(0x17, Buffer.from('260101000000Z')), der(0x17, Buffer.from('360101000000Z'))),
    name,
    spki,
  );
  const signature = signWithKey('sha256', tbs, privateKeyOf(pair));
  const certificate = seq(tbs, algorithm, der(0x03, Buffer.from([0]), signature));
  // Checked here so a test can never pass because the certificate was garbage.
  if (!new X509Certificate(certificate).verify(publicKey))
    throw new Error('craft: bad certificate');
  return certificate;
}
