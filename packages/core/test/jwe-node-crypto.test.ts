import { createCipheriv, createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CompactEncrypt } from 'jose';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { normalizeOptions } from '../src/config/options.js';
import type { DecryptionOptions } from '../src/config/options.js';
import { isVerificationError } from '../src/errors.js';
import { parseToken } from '../src/token/compact.js';
import { createDecryptor } from '../src/token/decrypt.js';

// The node:crypto JWE path inside the decryptor: which engine opens what, that every failure
// looks the same (no oracle), and the candidate loop. The vector and property tests hold it to
// jose; these name the behaviours.

const b64 = (v: object | Buffer): string =>
  (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');

function decryptorFor(decryption: DecryptionOptions, nodeCrypto = true) {
  const settings = normalizeOptions({
    issuer: 'i',
    audience: 'a',
    keySource: { getKeys: async () => [], isPublished: () => false, refresh: async () => {} },
    decryption,
  }).decryption!;
  const engines: string[] = [];
  const decrypt = createDecryptor(settings, { nodeCrypto, onAttempt: (e) => engines.push(e) });
  return {
    engines,
    async open(token: string): Promise<string | { code: string; reason?: string }> {
      try {
        const parsed = parseToken(token, 1 << 16, {});
        if (parsed.kind !== 'jwe') throw new Error('not a JWE');
        return Buffer.from((await decrypt(token, parsed.header)).plaintext).toString();
      } catch (err) {
        if (!isVerificationError(err)) throw err;
        return { code: err.code, reason: err.reason };
      }
    },
  };
}

function receiver(kid: string, type: 'rsa' | 'P-256' | 'P-384' | 'x25519') {
  const { publicKey, privateKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'x25519'
        ? generateKeyPairSync('x25519')
        : generateKeyPairSync('ec', { namedCurve: type });
  return { publicKey, jwk: { ...privateKey.export({ format: 'jwk' }), kid, use: 'enc' } as JWK };
}

const encrypt = (to: KeyObject | Uint8Array, header: Record<string, unknown>, text = 'hello') =>
  new CompactEncrypt(Buffer.from(text)).setProtectedHeader(header as never).encrypt(to);

const withPart = (token: string, i: number, change: (b: Buffer) => Buffer) =>
  token
    .split('.')
    .map((p, j) => (j === i ? b64(change(Buffer.from(p, 'base64url'))) : p))
    .join('.');
const flip = (b: Buffer) => {
  const c = Buffer.from(b);
  c[c.length >> 1]! ^= 1;
  return c;
};

const rsa = receiver('rsa-1', 'rsa');
const p256 = receiver('p256-1', 'P-256');
const p256b = receiver('p256-2', 'P-256');
const p384 = receiver('p384-1', 'P-384');
const x25519 = receiver('x-1', 'x25519');
const cek64 = randomBytes(64);
const kw = randomBytes(16);
const ALL_ALGS = ['RSA-OAEP-256', 'RSA-OAEP', 'ECDH-ES', 'ECDH-ES+A128KW', 'A128KW', 'dir'];
const ALL_ENCS = ['A128GCM', 'A256GCM', 'A128CBC-HS256', 'A256CBC-HS512'];
const keys = [
  rsa.jwk,
  p256.jwk,
  p384.jwk,
  x25519.jwk,
  { kty: 'oct', k: b64(kw), kid: 'kw-1', use: 'enc' },
  { kty: 'oct', k: b64(cek64), kid: 'dir-1', use: 'enc' },
];
const decryption = {
  keys,
  keyManagementAlgorithms: ALL_ALGS,
  contentEncryptionAlgorithms: ALL_ENCS,
};

/**
 * An A256CBC-HS512 `dir` token whose MAC is valid but whose padding is not: only a receiver that
 * decrypted before checking the MAC, or that reported padding apart, could tell it from a bad MAC.
 */
function validMacBadPadding(): string {
  const header = b64({ alg: 'dir', enc: 'A256CBC-HS512', kid: 'dir-1' });
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', cek64.subarray(32), iv).setAutoPadding(false);
  const block = Buffer.alloc(16, 0x41); // last byte 0x41: not PKCS#7 padding
  const ciphertext = Buffer.concat([cipher.update(block), cipher.final()]);
  const aad = Buffer.from(header);
  const al = Buffer.alloc(8);
  al.writeBigUInt64BE(BigInt(aad.length * 8));
  const tag = createHmac('sha512', cek64.subarray(0, 32))
    .update(Buffer.concat([aad, iv, ciphertext, al]))
    .digest()
    .subarray(0, 32);
  return [header, '', b64(iv), b64(ciphertext), b64(tag)].join('.');
}

describe('the node:crypto JWE path', () => {
  it.each([
    ['RSA-OAEP-256', 'A256GCM', rsa.publicKey, 'rsa-1'],
    ['RSA-OAEP', 'A128CBC-HS256', rsa.publicKey, 'rsa-1'],
    ['ECDH-ES', 'A256CBC-HS512', p256.publicKey, 'p256-1'],
    ['ECDH-ES+A128KW', 'A128GCM', p384.publicKey, 'p384-1'],
    ['ECDH-ES', 'A128GCM', x25519.publicKey, 'x-1'],
    ['A128KW', 'A256CBC-HS512', kw, 'kw-1'],
    ['dir', 'A256CBC-HS512', cek64, 'dir-1'],
  ] as const)('opens %s + %s itself', async (alg, enc, to, kid) => {
    const d = decryptorFor(decryption);
    expect(await d.open(await encrypt(to, { alg, enc, kid }))).toBe('hello');
    expect(d.engines).toEqual(['node:crypto']);
  });

  it('gives every cryptographic failure the same code and reason (no oracle)', async () => {
    const rsaToken = await encrypt(rsa.publicKey, {
      alg: 'RSA-OAEP-256',
      enc: 'A256GCM',
      kid: 'rsa-1',
    });
    const kwToken = await encrypt(kw, { alg: 'A128KW', enc: 'A128CBC-HS256', kid: 'kw-1' });
    const ecToken = await encrypt(p256.publicKey, {
      alg: 'ECDH-ES',
      enc: 'A128GCM',
      kid: 'p256-1',
    });
    const epk = JSON.parse(Buffer.from(ecToken.split('.')[0]!, 'base64url').toString()).epk;
    const p384Point = p384.publicKey.export({ format: 'jwk' });
    const offCurve = { ...epk, y: b64(flip(Buffer.from(epk.y, 'base64url'))) };
    const failures: Record<string, string> = {
      'RSA-OAEP padding': withPart(rsaToken, 1, flip),
      'RSA-OAEP: key of the wrong size': withPart(rsaToken, 1, (b) => b.subarray(1)),
      'AES key wrap integrity': withPart(kwToken, 1, flip),
      'GCM tag': withPart(rsaToken, 4, flip),
      'CBC-HMAC tag': withPart(kwToken, 4, flip),
      'CBC padding under a valid MAC': validMacBadPadding(),
      'epk on another curve': withPart(ecToken, 0, () =>
        Buffer.from(
          JSON.stringify({
            alg: 'ECDH-ES',
            enc: 'A128GCM',
            kid: 'p256-1',
            epk: { kty: 'EC', crv: 'P-384', x: p384Point.x, y: p384Point.y },
          }),
        ),
      ),
      'epk not on the curve': withPart(ecToken, 0, () =>
        Buffer.from(
          JSON.stringify({ alg: 'ECDH-ES', enc: 'A128GCM', kid: 'p256-1', epk: offCurve }),
        ),
      ),
    };
    const answers = new Set<string>();
    for (const [name, token] of Object.entries(failures)) {
      const d = decryptorFor(decryption);
      const outcome = await d.open(token);
      expect(outcome, name).toMatchObject({ code: 'decryption_failed' });
      expect(d.engines, name).toEqual(['node:crypto']);
      // jose alone refuses each one too.
      expect(await decryptorFor(decryption, false).open(token), name).toMatchObject({
        code: 'decryption_failed',
      });
      answers.add(JSON.stringify(outcome));
    }
    expect([...answers]).toHaveLength(1);
  });

  it('without a kid, goes on to the next key that fits after a failure', async () => {
    const token = await encrypt(p256b.publicKey, { alg: 'ECDH-ES', enc: 'A128GCM' });
    const d = decryptorFor({ ...decryption, keys: [p256.jwk, p256b.jwk] });
    expect(await d.open(token)).toBe('hello');
    expect(d.engines).toEqual(['node:crypto', 'node:crypto']);
  });

  it.each([
    [
      'an epk with a private member',
      async () => {
        const t = await encrypt(p256.publicKey, { alg: 'ECDH-ES', enc: 'A128GCM', kid: 'p256-1' });
        const h = JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString());
        return withPart(t, 0, () =>
          Buffer.from(JSON.stringify({ ...h, epk: { ...h.epk, d: h.epk.x } })),
        );
      },
      { code: 'token_malformed' },
    ],
    [
      'a GCM tag shorter than 128 bits',
      async () =>
        withPart(await encrypt(kw, { alg: 'A128KW', enc: 'A128GCM', kid: 'kw-1' }), 4, (b) =>
          b.subarray(0, 12),
        ),
      { code: 'token_malformed' },
    ],
  ] as const)('leaves %s to jose, whose answer stands', async (_name, make, want) => {
    const token = await make();
    const d = decryptorFor(decryption);
    expect(await d.open(token)).toMatchObject(want);
    expect(d.engines).toEqual(['jose']);
    expect(await decryptorFor(decryption, false).open(token)).toMatchObject(want);
  });

  it('leaves a compressed token to jose, which inflates it under maxDecompressedBytes', async () => {
    const token = await encrypt(kw, { alg: 'A128KW', enc: 'A128GCM', kid: 'kw-1', zip: 'DEF' });
    const d = decryptorFor({ ...decryption, maxDecompressedBytes: 1000 });
    expect(await d.open(token)).toBe('hello');
    expect(d.engines).toEqual(['jose']);
  });

  it('leaves an RSA key under 2048 bits to jose', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const jwk = { ...small.privateKey.export({ format: 'jwk' }), kid: 'small', use: 'enc' } as JWK;
    const d = decryptorFor({ ...decryption, keys: [jwk] });
    const token = await encrypt(
      // jose refuses to encrypt to it too; a well-formed token from any key shows the route.
      rsa.publicKey,
      { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'small' },
    );
    expect(await d.open(token)).toMatchObject({ code: 'decryption_failed' });
    expect(d.engines).toEqual(['jose']);
  });
});
