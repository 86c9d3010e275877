import {
  constants,
  createHmac,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  sign,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CompactSign, compactVerify } from 'jose';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { KeyRejected, SIGNATURE_ALGORITHMS, importVerificationKey } from '../src/keys/jwk.js';
import { verifySignature } from '../src/token/signature.js';

// The fast path (node:crypto, issue 6 goal 2) must agree with jose, the reference, case by case:
// on valid tokens signed by jose and by node:crypto, and on every mutation below.

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

interface Signer {
  alg: string;
  /** The signing key: a private KeyObject, or the HMAC secret. */
  key: KeyObject;
  /** What the receiver holds: the public JWK, or the secret as an `oct` JWK. */
  jwk: JWK;
  /** Another key of the same type and size. */
  other: KeyObject;
}

type KeyPairKind = ['rsa'] | ['ec', string] | ['ed25519'];

function pair(...[type, curve]: KeyPairKind) {
  const make = () =>
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: curve! })
        : generateKeyPairSync('ed25519');
  const { privateKey, publicKey } = make();
  return {
    key: privateKey,
    jwk: publicKey.export({ format: 'jwk' }) as JWK,
    other: make().privateKey,
  };
}

function hmacSecret(bytes: number) {
  const raw = randomBytes(bytes);
  return {
    key: createSecretKey(raw),
    jwk: { kty: 'oct', k: raw.toString('base64url') } as JWK,
    other: createSecretKey(randomBytes(bytes)),
  };
}

// One RSA pair serves all six RS / PS algorithms: its JWK names no `alg`.
const rsa = pair('rsa');
const ec: Record<string, ReturnType<typeof pair>> = {
  ES256: pair('ec', 'P-256'),
  ES384: pair('ec', 'P-384'),
  ES512: pair('ec', 'P-521'),
};
const ed = pair('ed25519');

const signers: Signer[] = [
  ...['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'].map((alg) => ({ alg, ...rsa })),
  ...['ES256', 'ES384', 'ES512'].map((alg) => ({ alg, ...ec[alg]! })),
  { alg: 'EdDSA', ...ed },
  { alg: 'Ed25519', ...ed },
  { alg: 'HS256', ...hmacSecret(32) },
  { alg: 'HS384', ...hmacSecret(48) },
  { alg: 'HS512', ...hmacSecret(64) },
];

interface RawOptions {
  /** PSS salt length in bytes (default: the hash length, as RFC 7518 §3.5 requires). */
  saltLength?: number;
  dsaEncoding?: 'der' | 'ieee-p1363';
  /** Sign with the other RSA padding (PKCS#1 v1.5 for PS*, PSS for RS*). */
  swapPadding?: boolean;
}

/** Signs with node:crypto directly, so the tests can build what jose would refuse to make. */
function rawSign(alg: string, key: KeyObject, input: string, o: RawOptions = {}): Buffer {
  const data = Buffer.from(input);
  const hash = HASH[alg.slice(-3)]!;
  const family = alg.slice(0, 2);
  const pss = (family === 'PS') !== (o.swapPadding === true);
  const saltLength = o.saltLength ?? constants.RSA_PSS_SALTLEN_DIGEST;
  switch (family) {
    case 'RS':
    case 'PS':
      return pss
        ? sign(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength })
        : sign(hash, data, key);
    case 'ES':
      return sign(hash, data, { key, dsaEncoding: o.dsaEncoding ?? 'ieee-p1363' });
    case 'HS':
      return createHmac(hash, key).update(data).digest();
    default:
      return sign(null, data, key);
  }
}

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
const PAYLOAD = b64(JSON.stringify({ iss: 'https://issuer.example.com/', sub: 'user-1' }));

function rawToken(alg: string, key: KeyObject, o: RawOptions = {}, payload = PAYLOAD): string {
  const input = `${b64(JSON.stringify({ alg }))}.${payload}`;
  return `${input}.${b64(rawSign(alg, key, input, o))}`;
}

async function joseToken(s: Signer): Promise<string> {
  const key = s.alg.startsWith('HS') ? s.key.export() : s.key;
  return new CompactSign(Buffer.from(PAYLOAD, 'base64url'))
    .setProtectedHeader({ alg: s.alg })
    .sign(key);
}

/** Replaces the signature segment with `change(signature)`. */
function withSignature(token: string, change: (sig: Buffer) => Buffer): string {
  const [h, p, sig] = token.split('.') as [string, string, string];
  return `${h}.${p}.${b64(change(Buffer.from(sig, 'base64url')))}`;
}

function flipBit(bytes: Buffer, index: number): Buffer {
  const copy = Buffer.from(bytes);
  const i = index < 0 ? copy.length + index : index;
  copy[i] = copy[i]! ^ 0x01;
  return copy;
}

/** r‖s with each half left-padded by one zero byte: the same integers, the wrong length. */
function padHalves(sig: Buffer): Buffer {
  const half = sig.length / 2;
  const zero = Buffer.alloc(1);
  return Buffer.concat([zero, sig.subarray(0, half), zero, sig.subarray(half)]);
}

interface Mutation {
  name: string;
  /** Which algorithm families it applies to (all when absent). */
  only?: readonly string[];
  /** What RFC 7515 / 7518 require of a receiver. */
  accepted: boolean;
  make(s: Signer): Promise<{ token: string; jwk?: JWK }>;
}

const HASH_BYTES: Record<string, number> = { '256': 32, '384': 48, '512': 64 };

const mutations: Mutation[] = [
  {
    name: 'valid, signed by jose',
    accepted: true,
    make: async (s) => ({ token: await joseToken(s) }),
  },
  {
    name: 'valid, signed by node:crypto',
    accepted: true,
    make: async (s) => ({ token: rawToken(s.alg, s.key) }),
  },
  {
    name: 'first signature bit flipped',
    accepted: false,
    make: async (s) => ({ token: withSignature(await joseToken(s), (sig) => flipBit(sig, 0)) }),
  },
  {
    name: 'last signature bit flipped',
    accepted: false,
    make: async (s) => ({ token: withSignature(await joseToken(s), (sig) => flipBit(sig, -1)) }),
  },
  {
    name: 'payload bit flipped',
    accepted: false,
    make: async (s) => {
      const [h, p, sig] = (await joseToken(s)).split('.') as [string, string, string];
      return { token: `${h}.${b64(flipBit(Buffer.from(p, 'base64url'), 3))}.${sig}` };
    },
  },
  {
    name: 'signature truncated by one byte',
    accepted: false,
    make: async (s) => ({ token: withSignature(await joseToken(s), (sig) => sig.subarray(0, -1)) }),
  },
  {
    name: 'signature extended by one zero byte',
    accepted: false,
    make: async (s) => ({
      token: withSignature(await joseToken(s), (sig) => Buffer.concat([sig, Buffer.alloc(1)])),
    }),
  },
  {
    name: 'empty signature',
    accepted: false,
    make: async (s) => ({ token: withSignature(await joseToken(s), () => Buffer.alloc(0)) }),
  },
  {
    name: 'signed by another key of the same type',
    accepted: false,
    make: async (s) => ({ token: rawToken(s.alg, s.other) }),
  },
  {
    name: 'ECDSA r and s each one byte too long',
    only: ['ES'],
    accepted: false,
    make: async (s) => ({ token: withSignature(await joseToken(s), padHalves) }),
  },
  {
    name: 'ECDSA signature DER-encoded instead of IEEE P1363',
    only: ['ES'],
    accepted: false,
    make: async (s) => ({ token: rawToken(s.alg, s.key, { dsaEncoding: 'der' }) }),
  },
  {
    name: 'PSS signature with an empty salt',
    only: ['PS'],
    accepted: false,
    make: async (s) => ({ token: rawToken(s.alg, s.key, { saltLength: 0 }) }),
  },
  {
    name: 'PSS signature with a salt one byte longer than the hash',
    only: ['PS'],
    accepted: false,
    make: async (s) => ({
      token: rawToken(s.alg, s.key, { saltLength: HASH_BYTES[s.alg.slice(-3)]! + 1 }),
    }),
  },
  {
    name: 'PKCS#1 v1.5 signature under a PS header',
    only: ['PS'],
    accepted: false,
    make: async (s) => ({ token: rawToken(s.alg, s.key, { swapPadding: true }) }),
  },
  {
    name: 'PSS signature under an RS header',
    only: ['RS'],
    accepted: false,
    make: async (s) => ({ token: rawToken(s.alg, s.key, { swapPadding: true }) }),
  },
  {
    // RFC 7518 §3.2: "A key of the same size as the hash output … or larger MUST be used".
    name: 'HMAC key one byte shorter than the hash',
    only: ['HS'],
    accepted: false,
    make: async (s) => {
      const short = randomBytes(HASH_BYTES[s.alg.slice(-3)]! - 1);
      return {
        token: rawToken(s.alg, createSecretKey(short)),
        jwk: { kty: 'oct', k: short.toString('base64url') },
      };
    },
  },
];

/**
 * The only places jose and the fast path may disagree: each is jose accepting what RFC 7518
 * forbids. jose 6 does not check the HMAC key length when verifying.
 */
const JOSE_DIFFERENCES: Record<string, string> = {
  'HMAC key one byte shorter than the hash': 'jose verifies with an HMAC key shorter than the hash',
};

/** Our path: the JWK imported as createVerifier imports it, then verifySignature. */
function viaFastPath(token: string, jwk: JWK, alg: string): boolean {
  let key;
  try {
    key = importVerificationKey(jwk, { allowSymmetric: jwk.kty === 'oct' });
  } catch (err) {
    if (err instanceof KeyRejected) return false;
    throw err;
  }
  const [h, p, sig] = token.split('.') as [string, string, string];
  return verifySignature(alg, key, `${h}.${p}`, Buffer.from(sig, 'base64url'));
}

async function viaJose(token: string, jwk: JWK, alg: string): Promise<boolean> {
  try {
    await compactVerify(token, jwk, { algorithms: [alg] });
    return true;
  } catch {
    return false;
  }
}

const table = signers.flatMap((signer) =>
  mutations
    .filter((m) => !m.only || m.only.includes(signer.alg.slice(0, 2)))
    .map((mutation) => ({ name: `${signer.alg}: ${mutation.name}`, signer, mutation })),
);

describe('verifySignature agrees with jose', () => {
  it.each(table)('$name', async ({ signer, mutation }) => {
    const { token, jwk = signer.jwk } = await mutation.make(signer);
    const ours = viaFastPath(token, jwk, signer.alg);
    const jose = await viaJose(token, jwk, signer.alg);
    expect(ours, 'fast path').toBe(mutation.accepted);
    const difference = JOSE_DIFFERENCES[mutation.name];
    if (difference) expect(jose, difference).toBe(!mutation.accepted);
    else expect(jose, 'jose').toBe(mutation.accepted);
  });

  it('covers every algorithm the fast path implements, and each mutation somewhere', () => {
    expect(new Set(signers.map((s) => s.alg))).toEqual(new Set(SIGNATURE_ALGORITHMS));
    for (const m of mutations)
      expect(
        table.some((row) => row.mutation === m),
        m.name,
      ).toBe(true);
  });
});

describe('verifySignature refuses a key that does not fit the algorithm', () => {
  // Callers check keyFitsAlg first; the fast path still never verifies across families.
  const cases: { name: string; alg: string; signer: Signer }[] = [
    {
      name: 'ES256 token checked as ES384',
      alg: 'ES384',
      signer: signers.find((s) => s.alg === 'ES256')!,
    },
    {
      name: 'HS256 token checked as HS512 (tag length differs)',
      alg: 'HS512',
      signer: signers.find((s) => s.alg === 'HS256')!,
    },
    { name: 'an unknown algorithm', alg: 'XS256', signer: signers.find((s) => s.alg === 'HS256')! },
  ];
  it.each(cases)('$name', ({ alg, signer }) => {
    const token = rawToken(signer.alg, signer.key);
    expect(viaFastPath(token, signer.jwk, signer.alg)).toBe(true);
    expect(viaFastPath(token, signer.jwk, alg)).toBe(false);
  });
});
