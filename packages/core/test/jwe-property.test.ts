import { createSecretKey, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, jwtVerify } from 'jose';
import type { JWK } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../src/verifier.js';
import { createDecryptor } from '../src/token/decrypt.js';
import { normalizeOptions } from '../src/config/options.js';
import { isVerificationError } from '../src/errors.js';
import { parseToken } from '../src/token/compact.js';
import { CONTENT_ENCRYPTION } from '../src/token/jwe/content.js';
import type { TokenPayload } from '../src/token/types.js';

// Property test: random nested tokens (random claims, receiver keys from a small pool, random
// allowed alg/enc, random tampering of one part) opened three ways, which must agree:
//   1. tokengate's verifier (node:crypto for the JWE, jose only for what it does not cover);
//   2. jose alone, the reference: compactDecrypt with the receiver key, then jwtVerify;
//   3. the decryptor with jose alone, against the node:crypto one: the same error code.
// The choices come from a seeded PRNG (TOKENGATE_PROPERTY_SEED to replay another seed); the
// keys, IVs and CEKs are random, so a failure prints the token itself.

const SEED = Number(process.env.TOKENGATE_PROPERTY_SEED ?? 0x16_2026);
const BATCHES = 10;
const PER_BATCH = 1_000; // 10,000 tokens in all
/** Cases per minted token: the token itself and tampered copies. */
const VARIANTS = 4;
const CONCURRENCY = 8;

/** mulberry32: a small seeded PRNG, enough to pick cases reproducibly. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
  /** Picks by weight: `[[weight, value], …]`. */
  const weighted = <T>(list: readonly (readonly [number, T])[]): T => {
    let r = next() * list.reduce((sum, [w]) => sum + w, 0);
    for (const [w, v] of list) if ((r -= w) < 0) return v;
    return list.at(-1)![1];
  };
  return { next, int, pick, weighted };
}
type Prng = ReturnType<typeof prng>;

const ISSUER = 'https://issuer.property.example';
const AUDIENCE = 'api://property';

// --- the key pool ---------------------------------------------------------------------------

interface ReceiverKey {
  kid: string;
  /** What the sender encrypts to. */
  encryptTo: KeyObject;
  /** What the receiver holds (and jose, the reference, decrypts with). */
  privateKey: KeyObject;
  privateJwk: JWK;
  algs: readonly string[];
}

function pair(
  kid: string,
  algs: readonly string[],
  type: 'rsa' | 'ec' | 'x25519',
  options: { modulusLength?: number; namedCurve?: string },
): ReceiverKey {
  const { publicKey, privateKey } = generateKeyPairSync(
    type as 'ec',
    options as { namedCurve: string },
  );
  return {
    kid,
    encryptTo: publicKey,
    privateKey,
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, use: 'enc' },
    algs,
  };
}
function secret(kid: string, algs: readonly string[], bytes: number, r: Prng): ReceiverKey {
  const key = createSecretKey(Buffer.from(Array.from({ length: bytes }, () => r.int(256))));
  return {
    kid,
    encryptTo: key,
    privateKey: key,
    privateJwk: { ...key.export({ format: 'jwk' }), kid, use: 'enc' },
    algs,
  };
}

const ECDH = ['ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW'];
/** Every `enc` tokengate allows, with its CEK size (the `dir` keys must match it). */
const ENCS = Object.keys(CONTENT_ENCRYPTION);
const cekBytes = (enc: string): number => CONTENT_ENCRYPTION[enc]!.cekBytes;

function receiverPool(r: Prng) {
  const keys = {
    rsa: pair('rsa-1', ['RSA-OAEP-256', 'RSA-OAEP'], 'rsa', { modulusLength: 2048 }),
    p256: pair('p256-1', ECDH, 'ec', { namedCurve: 'P-256' }),
    p256b: pair('p256-2', ECDH, 'ec', { namedCurve: 'P-256' }),
    p384: pair('p384-1', ECDH, 'ec', { namedCurve: 'P-384' }),
    p521: pair('p521-1', ECDH, 'ec', { namedCurve: 'P-521' }),
    x25519: pair('x25519-1', ECDH, 'x25519', {}),
    kw128: secret('kw128-1', ['A128KW', 'A128GCMKW'], 16, r),
    kw256: secret('kw256-1', ['A256KW', 'A256GCMKW'], 32, r),
  };
  // `dir` keys are the CEK itself, one per CEK size.
  const dir = Object.fromEntries(
    [16, 24, 32, 48, 64].map((n) => [n, secret(`dir-${n}`, ['dir'], n, r)]),
  ) as Record<number, ReceiverKey>;
  return { ...keys, dir };
}

interface Signer {
  alg: 'ES256' | 'EdDSA' | 'RS256';
  kid: string;
  privateKey: KeyObject;
  jwk: JWK;
  publicKey: KeyObject;
}
function signer(alg: Signer['alg']): Signer {
  const { publicKey, privateKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `sig-${alg}`;
  return {
    alg,
    kid,
    privateKey,
    publicKey,
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

const b64 = (v: object | Buffer): string =>
  (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');

/** A compact JWS over `claims`, signed with node:crypto (cheap enough for 10,000 tokens). */
function signInner(s: Signer, claims: object): string {
  const input = `${b64({ alg: s.alg, kid: s.kid, typ: 'JWT' })}.${b64(claims)}`;
  const signature =
    s.alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key: s.privateKey, dsaEncoding: 'ieee-p1363' })
      : sign(s.alg === 'RS256' ? 'sha256' : null, Buffer.from(input), s.privateKey);
  return `${input}.${b64(signature)}`;
}

/** Random JSON of bounded depth: what a claim set may carry besides the registered claims. */
function randomValue(r: Prng, depth: number): unknown {
  switch (r.int(depth > 0 ? 6 : 4)) {
    case 0:
      return r.int(1_000_000) - 500_000;
    case 1:
      return Array.from({ length: r.int(12) }, () => String.fromCharCode(32 + r.int(0x2fff))).join(
        '',
      );
    case 2:
      return r.next() < 0.5;
    case 3:
      return null;
    case 4:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth - 1));
    default:
      return Object.fromEntries(
        Array.from({ length: r.int(4) }, (_, i) => [`k${i}`, randomValue(r, depth - 1)]),
      );
  }
}
function randomClaims(r: Prng, now: number): TokenPayload {
  const claims: TokenPayload = {
    iss: ISSUER,
    aud: r.next() < 0.5 ? AUDIENCE : [AUDIENCE, 'api://other'],
    sub: `user-${r.int(1e6)}`,
    iat: now - r.int(60),
    exp: now + 60 + r.int(3600),
  };
  for (let i = r.int(6); i > 0; i--) claims[`c_${r.int(1000)}`] = randomValue(r, 3);
  return claims;
}

// --- tampering ------------------------------------------------------------------------------

type Part = 'header' | 'encrypted key' | 'iv' | 'ciphertext' | 'tag';
const PART_INDEX: Record<Part, number> = {
  header: 0,
  'encrypted key': 1,
  iv: 2,
  ciphertext: 3,
  tag: 4,
};

function alterBytes(bytes: Buffer, r: Prng): [Buffer, string] {
  const how = r.int(bytes.length === 0 ? 1 : 5);
  switch (how) {
    case 0:
      return [Buffer.concat([bytes, Buffer.from([r.int(256)])]), 'one byte appended'];
    case 1: {
      const copy = Buffer.from(bytes);
      const i = r.int(copy.length);
      copy[i]! ^= 1 << r.int(8);
      return [copy, `bit flipped at ${i}`];
    }
    case 2:
      return [bytes.subarray(0, r.int(bytes.length)), 'truncated'];
    case 3:
      return [Buffer.alloc(0), 'emptied'];
    default:
      return [Buffer.from(bytes.map(() => r.int(256))), 'replaced with random bytes'];
  }
}

/** Rewrites the protected header (so the AAD changes too): the attacks on `epk`, `alg`, `enc`. */
function alterHeader(
  header: Record<string, unknown>,
  r: Prng,
  pool: ReturnType<typeof receiverPool>,
): [Record<string, unknown>, string] {
  const h = { ...header };
  const epk = h.epk as Record<string, string> | undefined;
  const choices: [number, () => string][] = [
    [1, () => ((h.enc = r.pick(ENCS)), `enc → ${String(h.enc)}`)],
    [
      1,
      () => (
        (h.alg = r.pick(['RSA-OAEP-256', 'ECDH-ES', 'A128KW', 'dir'])),
        `alg → ${String(h.alg)}`
      ),
    ],
    [
      1,
      () => ((h.kid = r.pick(['rsa-1', 'p256-1', 'p256-2', 'unknown'])), `kid → ${String(h.kid)}`),
    ],
    [1, () => (delete h.kid, 'kid removed')],
    [1, () => ((h.apu = b64(Buffer.from('alice'))), (h.apv = h.apu), 'apu = apv')],
    [1, () => ((h.apv = r.pick(['Ym9i', 'Ym9=', 'Ym9ia', 42])), `apv → ${String(h.apv)}`)],
  ];
  if (epk) {
    const other = (k: ReceiverKey) => {
      const { kty, crv, x, y } = k.encryptTo.export({ format: 'jwk' });
      return y === undefined ? { kty, crv, x } : { kty, crv, x, y };
    };
    choices.push(
      [3, () => ((h.epk = other(pool.p256b)), 'epk → another P-256 point')],
      [
        2,
        () => ((h.epk = other(r.pick([pool.p384, pool.x25519, pool.p521]))), 'epk → another curve'),
      ],
      [
        3,
        () => {
          const coordinate = epk.y === undefined ? 'x' : 'y';
          const bytes = Buffer.from(epk[coordinate]!, 'base64url');
          bytes[bytes.length - 1]! ^= 1;
          h.epk = { ...epk, [coordinate]: b64(bytes) };
          return `epk ${coordinate} off the curve`;
        },
      ],
      [1, () => ((h.epk = { ...epk, d: epk.x }), 'epk with a private member')],
      [
        1,
        () => (
          (h.epk = { ...epk, crv: epk.crv === 'P-256' ? 'P-384' : 'P-256' }),
          'epk crv renamed'
        ),
      ],
      [1, () => ((h.epk = { kty: 'oct', k: 'AAAA' }), 'epk not an EC key')],
      [1, () => ((h.epk = { ...epk, x: epk.x!.slice(0, -2) }), 'epk x short')],
      [1, () => ((h.epk = 'epk'), 'epk a string')],
    );
  }
  return [h, r.weighted(choices)()];
}

// --- one case -------------------------------------------------------------------------------

interface Case {
  token: string;
  receiver: ReceiverKey;
  description: string;
  tampered: boolean;
}

type Outcome = { claims: TokenPayload } | { refused: string };

/** The decryptor's error codes (anything else it returns is a plaintext in hex). */
const REFUSALS = new Set([
  'token_malformed',
  'alg_not_allowed',
  'enc_not_allowed',
  'decryption_failed',
  'not a JWE',
]);

function outcomeOf(err: unknown): Outcome {
  if (isVerificationError(err)) return { refused: err.code };
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_J')) return { refused: code };
  throw err; // not a refusal: a crash, which both must never do
}

describe('random nested tokens: node:crypto JWE agrees with jose', () => {
  const r = prng(SEED);
  const pool = receiverPool(r);
  const signers = { ES256: signer('ES256'), EdDSA: signer('EdDSA'), RS256: signer('RS256') };
  const receivers = [
    pool.rsa,
    pool.p256,
    pool.p256b,
    pool.p384,
    pool.p521,
    pool.x25519,
    pool.kw128,
    pool.kw256,
    ...Object.values(pool.dir),
  ];
  const keyManagementAlgorithms = [...new Set(receivers.flatMap((k) => k.algs))];
  const decryption = {
    keys: receivers.map((k) => k.privateJwk),
    keyManagementAlgorithms,
    contentEncryptionAlgorithms: [...ENCS],
  };
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: Object.values(signers).map((s) => s.jwk),
    algorithms: ['ES256', 'EdDSA', 'RS256'],
    decryption,
    tokenCache: false,
  });
  const settings = normalizeOptions({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: Object.values(signers).map((s) => s.jwk),
    decryption,
  }).decryption!;
  const viaJose = createDecryptor(settings, { nodeCrypto: false });
  const tally = { tokens: 0, accepted: 0, tampered: 0 };
  afterAll(() => console.log(`JWE property test (seed ${SEED}): ${JSON.stringify(tally)}`));

  /**
   * One random token minted by jose, and VARIANTS - 1 tampered copies of it (jose's ECDH
   * encryption costs ~1 ms, so each minted token serves several cases).
   */
  async function makeCases(now: number): Promise<Case[]> {
    // RSA decryption costs ~1 ms per engine: rare; P-256 and X25519 carry most of the ECDH cases.
    const receiver = r.weighted<ReceiverKey>([
      [1.5, pool.rsa],
      [4, pool.p256],
      [0.7, pool.p384],
      [0.3, pool.p521],
      [4, pool.x25519],
      [1.5, pool.kw128],
      [1.5, pool.kw256],
      [1.5, pool.dir[r.pick([16, 24, 32, 48, 64])]!],
    ]);
    const alg = r.pick(receiver.algs);
    const enc =
      alg === 'dir'
        ? r.pick(ENCS.filter((e) => cekBytes(e) === receiver.privateKey.symmetricKeySize))
        : r.pick(ENCS);
    const s = r.weighted<Signer>([
      [6, signers.ES256],
      [4, signers.EdDSA],
      [0.5, signers.RS256],
    ]);
    const claims = randomClaims(r, now);
    const inner = signInner(s, claims);
    const header: Record<string, unknown> = { alg, enc, cty: 'JWT', kid: receiver.kid };
    if (alg.startsWith('ECDH') && r.next() < 0.3) {
      header.apu = b64(Buffer.from(`sender-${r.int(100)}`));
      header.apv = b64(Buffer.from('receiver'));
    }
    const jwe = await new CompactEncrypt(Buffer.from(inner))
      .setProtectedHeader(header as never)
      .encrypt(receiver.encryptTo);
    const description = `${alg} + ${enc} to ${receiver.kid}, inner ${s.alg}`;
    const cases: Case[] = [{ token: jwe, receiver, description, tampered: false }];
    while (cases.length < VARIANTS) cases.push(tamper(jwe, receiver, description));
    return cases;
  }

  /** A copy of `jwe` with one part altered. */
  function tamper(jwe: string, receiver: ReceiverKey, intact: string): Case {
    let description = intact;
    const parts = jwe.split('.');
    const part = r.weighted<Part>([
      [3, 'header'],
      [2, 'encrypted key'],
      [2, 'iv'],
      [2, 'ciphertext'],
      [2, 'tag'],
    ]);
    const i = PART_INDEX[part];
    if (part === 'header') {
      const decoded = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString()) as Record<
        string,
        unknown
      >;
      const [altered, how] = alterHeader(decoded, r, pool);
      parts[0] = b64(altered);
      description += `; header: ${how}`;
    } else {
      const [altered, how] = alterBytes(Buffer.from(parts[i]!, 'base64url'), r);
      parts[i] = b64(altered);
      description += `; ${part}: ${how}`;
    }
    return { token: parts.join('.'), receiver, description, tampered: true };
  }

  /** jose alone, as its documentation has it: the receiver's key, then jwtVerify. */
  async function reference({ token, receiver }: Case): Promise<Outcome> {
    try {
      const { plaintext } = await compactDecrypt(token, receiver.privateKey, {
        keyManagementAlgorithms,
        contentEncryptionAlgorithms: [...ENCS],
      });
      const text = Buffer.from(plaintext).toString();
      const { alg } = JSON.parse(Buffer.from(text.split('.')[0]!, 'base64url').toString()) as {
        alg: keyof typeof signers;
      };
      const { payload } = await jwtVerify(text, signers[alg].publicKey, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: [alg],
      });
      return { claims: payload };
    } catch (err) {
      // jose throws a TypeError when the header names an algorithm the key cannot serve: a refusal.
      const { code, name } = err as { code?: string; name?: string };
      return { refused: code ?? name ?? 'error' };
    }
  }

  async function ours(token: string): Promise<Outcome> {
    try {
      return { claims: { ...(await verifier.verify(token)).payload } };
    } catch (err) {
      return outcomeOf(err);
    }
  }

  /** The decryptor alone, with an engine: the plaintext (hex) or our error code. */
  async function decryptWith(decrypt: typeof viaJose, token: string): Promise<string> {
    try {
      const parsed = parseToken(token, 1 << 16, {});
      if (parsed.kind !== 'jwe') return 'not a JWE';
      return Buffer.from((await decrypt(token, parsed.header)).plaintext).toString('hex');
    } catch (err) {
      return (outcomeOf(err) as { refused: string }).refused;
    }
  }

  /** One case, tokengate against jose; a description of the disagreement, or `undefined`. */
  async function check(c: Case): Promise<string | undefined> {
    // A tampered token also goes through the decryptor with jose alone: when jose refuses it,
    // tokengate must refuse it with that same code. A token jose opens is compared on its claims
    // with jose proper.
    const [mine, jose] = await Promise.all([
      ours(c.token),
      c.tampered ? decryptWith(viaJose, c.token) : undefined,
    ]);
    const joseOpened = jose === undefined || !REFUSALS.has(jose);
    const theirs: Outcome = joseOpened ? await reference(c) : { refused: jose };
    tally.tokens++;
    if (c.tampered) tally.tampered++;
    if ('claims' in mine) tally.accepted++;
    const agree =
      'claims' in mine
        ? JSON.stringify(mine) === JSON.stringify(theirs)
        : 'refused' in theirs && (joseOpened || mine.refused === jose);
    if (agree) return undefined;
    return `${c.description}: tokengate ${JSON.stringify(mine)}, jose ${JSON.stringify(theirs)}; token ${c.token}`;
  }

  it.each(Array.from({ length: BATCHES }, (_, i) => i + 1))(
    `batch %i of ${BATCHES}: ${PER_BATCH} tokens`,
    async () => {
      const now = Math.floor(Date.now() / 1000);
      // Minted in one batch first, so the checks below run back to back.
      const cases: Case[] = [];
      while (cases.length < PER_BATCH) cases.push(...(await makeCases(now)));
      const disagreements: string[] = [];
      // Checked a few at a time: jose's WebCrypto work runs on the thread pool meanwhile.
      for (let i = 0; i < cases.length; i += CONCURRENCY) {
        const verdicts = await Promise.all(cases.slice(i, i + CONCURRENCY).map(check));
        for (const problem of verdicts)
          if (problem && disagreements.length < 5) disagreements.push(problem);
      }
      expect(disagreements).toEqual([]);
    },
  );

  it('saw both verdicts, many times each', () => {
    expect(tally.tokens).toBe(BATCHES * PER_BATCH);
    expect(tally.accepted).toBeGreaterThan(tally.tokens / VARIANTS / 2);
    expect(tally.tampered).toBeGreaterThan(tally.tokens / 2);
  });
});
