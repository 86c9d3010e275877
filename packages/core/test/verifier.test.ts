import { createHmac, createPublicKey } from 'node:crypto';
import { CompactSign } from 'jose';
import { describe, expect, it } from 'vitest';
import { EVENT_CHANNEL, VerificationError, createVerifier } from '../src/index.js';
import type { KeySource, VerificationErrorCode, VerifierOptions } from '../src/index.js';
import { createLocalKeySet } from '../src/keys/local.js';
import {
  AUDIENCE,
  ISSUER,
  NOW,
  b64json,
  encrypt,
  fakeClock,
  generateTestKeys,
  sign,
  validClaims,
  withSegment,
} from './helpers/keys.js';
import type { TestKeys } from './helpers/keys.js';

const keys: TestKeys = await generateTestKeys();
const base: VerifierOptions = {
  issuer: ISSUER,
  audience: AUDIENCE,
  keys: {
    keys: [keys.rs256, keys.ps256, keys.es256, keys.es384, keys.eddsa].map((k) => k.publicJwk),
  },
  decryption: { keys: [keys.rsaOaep, keys.ecdh, keys.ecdhKw].map((k) => k.privateJwk) },
  clockTolerance: '60s',
  maxTokenAge: '15m',
  requiredClaims: ['sub'],
  now: () => NOW,
};

function verifier(extra: Partial<VerifierOptions> = {}) {
  return createVerifier({ ...base, ...extra });
}

async function rawJws(
  payload: string | Uint8Array,
  header: Record<string, unknown>,
): Promise<string> {
  const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  return new CompactSign(bytes)
    .setProtectedHeader({ alg: 'RS256', kid: 'rs-1', ...header } as never)
    .sign(keys.rs256.privateKey);
}

describe('accepts', () => {
  const cases: { name: string; make: () => Promise<string>; options?: Partial<VerifierOptions> }[] =
    [
      { name: 'RS256 JWS', make: () => sign(keys.rs256, validClaims()) },
      { name: 'PS256 JWS', make: () => sign(keys.ps256, validClaims()) },
      { name: 'ES256 JWS', make: () => sign(keys.es256, validClaims()) },
      { name: 'ES384 JWS', make: () => sign(keys.es384, validClaims()) },
      { name: 'EdDSA JWS', make: () => sign(keys.eddsa, validClaims()) },
      {
        name: 'nested RS256 in RSA-OAEP-256',
        make: async () => encrypt(keys.rsaOaep, await sign(keys.rs256, validClaims())),
      },
      {
        name: 'nested ES256 in ECDH-ES',
        make: async () => encrypt(keys.ecdh, await sign(keys.es256, validClaims())),
      },
      {
        name: 'nested ES256 in ECDH-ES+A256KW without cty (3-part plaintext)',
        make: async () =>
          encrypt(keys.ecdhKw, await sign(keys.es256, validClaims()), { cty: undefined }),
      },
      {
        name: 'JWE without kid, one fitting key',
        make: async () =>
          encrypt(keys.rsaOaep, await sign(keys.rs256, validClaims()), { kid: undefined }),
      },
      {
        name: 'JWS without kid (key chosen by alg)',
        make: () => sign(keys.es384, validClaims(), { kid: undefined }),
      },
      {
        name: 'exp 1 s inside the tolerance',
        make: () => sign(keys.rs256, validClaims({ exp: NOW - 59 })),
      },
      {
        name: 'iat exactly at the tolerance ahead (read like nbf)',
        make: () => sign(keys.rs256, validClaims({ iat: NOW + 60 })),
      },
      {
        name: 'nbf exactly at the tolerance',
        make: () => sign(keys.rs256, validClaims({ nbf: NOW + 60 })),
      },
      {
        name: 'iat exactly max age + tolerance ago',
        make: () => sign(keys.rs256, validClaims({ iat: NOW - 960 })),
      },
      {
        name: 'aud array containing ours',
        make: () => sign(keys.rs256, validClaims({ aud: ['x', AUDIENCE] })),
      },
      {
        name: 'typ with application/ prefix and other case',
        make: () => sign(keys.rs256, validClaims(), { typ: 'application/AT+JWT' }),
        options: { typ: 'at+jwt' },
      },
      {
        name: 'typ with a / compared as the whole media type',
        make: () => sign(keys.rs256, validClaims(), { typ: 'Application/Example+JWT' }),
        options: { typ: 'application/example+jwt' },
      },
      {
        name: 'bare claims whose JWE header replicates iss, sub and aud exactly (RFC 7519 §5.3)',
        make: () =>
          encrypt(keys.rsaOaep, JSON.stringify(validClaims({ aud: ['x', AUDIENCE] })), {
            cty: undefined,
            iss: ISSUER,
            sub: 'user-1',
            aud: ['x', AUDIENCE],
          }),
        options: { decryption: { keys: [keys.rsaOaep.privateJwk], allowUnsignedClaims: true } },
      },
      {
        name: 'one of several issuers',
        make: () => sign(keys.rs256, validClaims({ iss: 'https://b.example/' })),
        options: { issuer: ['https://a.example/', 'https://b.example/'] },
      },
      {
        name: 'unsigned encrypted claims when explicitly allowed',
        make: () => encrypt(keys.rsaOaep, JSON.stringify(validClaims()), { cty: undefined }),
        options: { decryption: { keys: [keys.rsaOaep.privateJwk], allowUnsignedClaims: true } },
      },
      {
        name: 'a token naming jku/x5u/jwk headers (ignored, our key verifies)',
        make: () =>
          sign(keys.rs256, validClaims(), {
            jku: 'https://evil.example/jwks',
            x5u: 'https://evil.example/c',
          }),
      },
    ];
  it.each(cases)('$name', async ({ make, options }) => {
    const token = await make();
    const result = await verifier(options).verify(token);
    expect(result.payload.sub).toBe('user-1');
    expect(result.token).toBe(token);
    expect(Object.isFrozen(result.payload)).toBe(true);
    if (token.split('.').length === 5) expect(result.encryption?.enc).toBe('A256GCM');
    else expect(result.encryption).toBeUndefined();
  });
});

type FailureCase = {
  name: string;
  make: () => Promise<string> | string;
  code: VerificationErrorCode;
  options?: Partial<VerifierOptions>;
};

const failures: FailureCase[] = [
  // format
  { name: 'one part', make: () => 'abc', code: 'token_malformed' },
  { name: 'four parts', make: () => 'a.b.c.d', code: 'token_malformed' },
  { name: 'empty string', make: () => '', code: 'token_malformed' },
  {
    name: 'header is not JSON',
    make: () => `${Buffer.from('{x').toString('base64url')}.e30.AA`,
    code: 'token_malformed',
  },
  {
    name: 'header is a JSON array',
    make: () => `${b64json(['RS256'])}.e30.AA`,
    code: 'token_malformed',
  },
  {
    name: 'non-canonical base64url (trailing bits set)',
    make: async () => {
      const t = await sign(keys.rs256, validClaims());
      const sig = t.split('.')[2]!;
      const last = sig.at(-1)!;
      // RS256 signature: 256 bytes → 342 chars, the last char carries 4 unused bits.
      const bumped = String.fromCharCode(last.charCodeAt(0) + 1);
      return withSegment(t, 2, sig.slice(0, -1) + (bumped === '{' ? 'A' : bumped));
    },
    code: 'token_malformed',
  },
  {
    name: 'padding characters',
    make: async () => `${await sign(keys.rs256, validClaims())}==`,
    code: 'token_malformed',
  },
  {
    name: 'whitespace inside',
    make: async () => (await sign(keys.rs256, validClaims())).replace('.', ' .'),
    code: 'token_malformed',
  },
  { name: 'payload is a JSON array', make: () => rawJws('[1]', {}), code: 'token_malformed' },
  { name: 'payload is not JSON', make: () => rawJws('hello', {}), code: 'token_malformed' },
  {
    name: 'unknown crit parameter',
    make: () => `${b64json({ alg: 'RS256', kid: 'rs-1', crit: ['exp'], exp: 1 })}.e30.AAAA`,
    code: 'token_malformed',
  },
  {
    name: 'b64 false',
    make: () => `${b64json({ alg: 'RS256', kid: 'rs-1', b64: false, crit: ['b64'] })}.e30.AAAA`,
    code: 'token_malformed',
  },
  { name: 'kid is not a string', make: () => rawJws('{}', { kid: 7 }), code: 'token_malformed' },
  {
    name: 'header without alg',
    make: () => `${b64json({ kid: 'rs-1' })}.e30.AA`,
    code: 'token_malformed',
  },
  {
    name: 'encrypted claims without a signature (default)',
    make: () => encrypt(keys.rsaOaep, JSON.stringify(validClaims()), { cty: undefined }),
    code: 'token_malformed',
  },
  {
    name: 'nested inner token is itself a JWE',
    make: async () =>
      encrypt(keys.rsaOaep, await encrypt(keys.ecdh, await sign(keys.rs256, validClaims()))),
    code: 'token_malformed',
  },
  {
    name: 'JWE with zip (compression refused by default)',
    make: () => encrypt(keys.rsaOaep, 'x', { zip: 'DEF' }),
    code: 'token_malformed',
  },
  { name: 'longer than 16 KiB', make: () => 'a'.repeat(16 * 1024 + 1), code: 'token_too_large' },
  // algorithms
  {
    name: 'alg none',
    make: () => `${b64json({ alg: 'none' })}.${b64json(validClaims())}.`,
    code: 'alg_not_allowed',
  },
  {
    name: 'alg NONE',
    make: () => `${b64json({ alg: 'NONE' })}.${b64json(validClaims())}.`,
    code: 'alg_not_allowed',
  },
  {
    name: 'HS256 keyed with the public key (alg confusion)',
    make: () => {
      const input = `${b64json({ alg: 'HS256', kid: 'rs-1' })}.${b64json(validClaims())}`;
      const pem = createPublicKey({ key: keys.rs256.publicJwk as never, format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      });
      return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    },
    code: 'alg_not_allowed',
  },
  {
    name: 'JWS alg outside the allow-list',
    make: () => sign(keys.ps256, validClaims()),
    code: 'alg_not_allowed',
    options: { algorithms: ['RS256'] },
  },
  {
    name: 'JWE alg outside the allow-list',
    make: async () => encrypt(keys.rsaOaep, await sign(keys.rs256, validClaims())),
    code: 'alg_not_allowed',
    options: {
      decryption: { keys: [keys.rsaOaep.privateJwk], keyManagementAlgorithms: ['ECDH-ES'] },
    },
  },
  {
    name: 'JWE enc outside the allow-list',
    make: async () =>
      encrypt(keys.rsaOaep, await sign(keys.rs256, validClaims()), { enc: 'A128GCM' }),
    code: 'enc_not_allowed',
    options: {
      decryption: { keys: [keys.rsaOaep.privateJwk], contentEncryptionAlgorithms: ['A256GCM'] },
    },
  },
  // decryption
  {
    name: 'JWE for a kid we do not hold',
    make: async () =>
      encrypt(keys.rsaOaep, await sign(keys.rs256, validClaims()), { kid: 'other' }),
    code: 'decryption_failed',
  },
  {
    name: 'JWE with a tampered ciphertext',
    make: async () => {
      const t = await encrypt(keys.rsaOaep, await sign(keys.rs256, validClaims()));
      const c = t.split('.')[3]!;
      return withSegment(t, 3, (c[0] === 'A' ? 'B' : 'A') + c.slice(1));
    },
    code: 'decryption_failed',
  },
  {
    name: 'JWE when no decryption keys are configured',
    make: async () => encrypt(keys.rsaOaep, await sign(keys.rs256, validClaims())),
    code: 'decryption_failed',
    options: { decryption: undefined },
  },
  {
    name: 'plain JWS when encryption is required',
    make: () => sign(keys.rs256, validClaims()),
    code: 'encryption_required',
    options: { requireEncryption: true },
  },
  // keys and signatures
  {
    name: 'unknown kid',
    make: () => sign(keys.rs256, validClaims(), { kid: 'nope' }),
    code: 'kid_unknown',
  },
  {
    name: 'kid __proto__',
    make: () => sign(keys.rs256, validClaims(), { kid: '__proto__' }),
    code: 'kid_unknown',
  },
  {
    name: 'kid of a key of another type (ES256 token, RSA kid)',
    make: () => sign(keys.es256, validClaims(), { kid: 'rs-1' }),
    code: 'kid_unknown',
  },
  {
    name: 'tampered payload',
    make: async () =>
      withSegment(await sign(keys.rs256, validClaims()), 1, b64json(validClaims({ sub: 'admin' }))),
    code: 'signature_invalid',
  },
  {
    name: 'empty signature',
    make: async () => withSegment(await sign(keys.rs256, validClaims()), 2, ''),
    code: 'signature_invalid',
  },
  {
    name: 'signed by another key claiming our kid',
    make: () => sign(keys.ps256, validClaims(), { alg: 'PS256', kid: 'rs-1' }),
    code: 'signature_invalid',
    options: { keys: [{ ...keys.rs256.publicJwk, alg: undefined }] },
  },
  // time
  {
    name: 'exp 61 s ago (tolerance 60 s)',
    make: () => sign(keys.rs256, validClaims({ exp: NOW - 61 })),
    code: 'token_expired',
  },
  {
    name: 'nbf 61 s ahead (tolerance 60 s)',
    make: () => sign(keys.rs256, validClaims({ nbf: NOW + 61 })),
    code: 'token_not_yet_valid',
  },
  {
    name: 'iat 61 s ahead',
    make: () => sign(keys.rs256, validClaims({ iat: NOW + 61 })),
    code: 'token_not_yet_valid',
  },
  {
    name: 'iat older than max age + tolerance',
    make: () => sign(keys.rs256, validClaims({ iat: NOW - 961 })),
    code: 'token_too_old',
  },
  // identity
  {
    name: 'iss of another issuer',
    make: () => sign(keys.rs256, validClaims({ iss: 'https://evil.example/' })),
    code: 'issuer_mismatch',
  },
  {
    name: 'iss with a trailing suffix',
    make: () => sign(keys.rs256, validClaims({ iss: `${ISSUER}x` })),
    code: 'issuer_mismatch',
  },
  {
    name: 'aud names another API',
    make: () => sign(keys.rs256, validClaims({ aud: 'api://other' })),
    code: 'audience_mismatch',
  },
  {
    name: 'aud is a prefix match only',
    make: () => sign(keys.rs256, validClaims({ aud: `${AUDIENCE}s` })),
    code: 'audience_mismatch',
  },
  {
    name: 'aud array without ours',
    make: () => sign(keys.rs256, validClaims({ aud: ['a', 'b'] })),
    code: 'audience_mismatch',
  },
  {
    name: 'exp exactly at the tolerance (RFC 7519 §4.1.4: now must be before exp)',
    make: () => sign(keys.rs256, validClaims({ exp: NOW - 60 })),
    code: 'token_expired',
  },
  {
    name: 'exp equal to now with clockTolerance 0',
    make: () => sign(keys.rs256, validClaims({ exp: NOW })),
    code: 'token_expired',
    options: { clockTolerance: 0 },
  },
  {
    name: 'iat 1 s past the tolerance ahead',
    make: () => sign(keys.rs256, validClaims({ iat: NOW + 61 })),
    code: 'token_not_yet_valid',
  },
  {
    name: 'typ text/plain where application/text/plain is expected (RFC 7515 §4.1.9)',
    make: () => sign(keys.rs256, validClaims(), { typ: 'text/plain' }),
    code: 'typ_mismatch',
    options: { typ: 'application/text/plain' },
  },
  ...(['iss', 'sub', 'aud'] as const).map((name): FailureCase => ({
    name: `bare claims whose JWE header "${name}" differs from the claim (RFC 7519 §5.3)`,
    make: () =>
      encrypt(keys.rsaOaep, JSON.stringify(validClaims()), {
        cty: undefined,
        [name]: name === 'aud' ? [AUDIENCE, 'api://other'] : 'https://other.example/',
      }),
    code: 'claim_invalid',
    options: { decryption: { keys: [keys.rsaOaep.privateJwk], allowUnsignedClaims: true } },
  })),
  {
    name: 'bare claims whose JWE header aud is the string where the claim is an array',
    make: () =>
      encrypt(keys.rsaOaep, JSON.stringify(validClaims({ aud: [AUDIENCE] })), {
        cty: undefined,
        aud: AUDIENCE,
      }),
    code: 'claim_invalid',
    options: { decryption: { keys: [keys.rsaOaep.privateJwk], allowUnsignedClaims: true } },
  },
  {
    name: 'nested token whose JWE header iss differs from the inner claim',
    make: async () =>
      encrypt(keys.rsaOaep, await sign(keys.rs256, validClaims()), {
        iss: 'https://other.example/',
      }),
    code: 'claim_invalid',
  },
  {
    name: 'a clock that reads NaN (fails closed)',
    make: () => sign(keys.rs256, validClaims()),
    code: 'clock_unavailable',
    options: { now: () => NaN },
  },
  {
    name: 'typ JWT where at+jwt is required',
    make: () => sign(keys.rs256, validClaims()),
    code: 'typ_mismatch',
    options: { typ: 'at+jwt' },
  },
  {
    name: 'no sub (required)',
    make: () => sign(keys.rs256, validClaims({ sub: undefined })),
    code: 'claim_missing',
  },
  {
    name: 'no exp',
    make: () => sign(keys.rs256, validClaims({ exp: undefined })),
    code: 'claim_missing',
  },
  {
    name: 'exp as a string',
    make: () => sign(keys.rs256, { ...validClaims(), exp: String(NOW + 60) } as never),
    code: 'claim_invalid',
  },
  {
    name: 'exp absurdly large',
    make: () => sign(keys.rs256, validClaims({ exp: 1e300 })),
    code: 'claim_invalid',
  },
  {
    name: 'exp negative',
    make: () => sign(keys.rs256, validClaims({ exp: -1 })),
    code: 'claim_invalid',
  },
  {
    name: 'aud is a number',
    make: () => sign(keys.rs256, { ...validClaims(), aud: 5 } as never),
    code: 'claim_invalid',
  },
];

describe('rejects', () => {
  it.each(failures)('$name → $code', async ({ make, code, options }) => {
    const token = await make();
    const err = await verifier(options)
      .verify(token)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(VerificationError);
    expect(err).toMatchObject({ code });
    const message = (err as Error).message;
    if (token.length > 10) expect(message).not.toContain(token.slice(0, 10));
  });

  it('passes a key source failure through as jwks_unavailable (503)', async () => {
    const down: KeySource = {
      getKeys: async () => {
        throw new VerificationError('jwks_unavailable');
      },
      isPublished: () => false,
      refresh: async () => {},
    };
    const token = await sign(keys.rs256, validClaims());
    await expect(
      verifier({ keys: undefined, keySource: down }).verify(token),
    ).rejects.toMatchObject({
      code: 'jwks_unavailable',
      status: 503,
    });
  });

  it('records unverified kid, alg and iss for the log, never the token', async () => {
    const token = await sign(keys.rs256, validClaims({ aud: 'api://other' }));
    const err = (await verifier()
      .verify(token)
      .catch((e: unknown) => e)) as VerificationError;
    expect(err.details).toMatchObject({ kid: 'rs-1', alg: 'RS256', iss: ISSUER });
  });
});

describe('token cache', () => {
  function countingKeys(): KeySource & { calls: number; published: boolean } {
    const inner = createLocalKeySet([keys.rs256.publicJwk]);
    const source = {
      calls: 0,
      published: true,
      getKeys(selector: Parameters<KeySource['getKeys']>[0]) {
        source.calls++;
        return inner.getKeys(selector);
      },
      isPublished: () => source.published,
      refresh: async () => {},
    };
    return source;
  }

  it('answers a repeated token from the cache, synchronously', async () => {
    const source = countingKeys();
    const v = verifier({ keys: undefined, keySource: source });
    const token = await sign(keys.rs256, validClaims());
    expect(v.cached(token)).toBeUndefined();
    const first = await v.verify(token);
    expect(v.cached(token)).toBe(first);
    expect(await v.verify(token)).toBe(first);
    expect(source.calls).toBe(1);
  });

  it('re-checks exp on a hit against the clock', async () => {
    const clock = fakeClock();
    const v = verifier({ now: clock, clockTolerance: 0 });
    const token = await sign(keys.rs256, validClaims({ exp: NOW + 30 }));
    await v.verify(token);
    clock.advance(29);
    expect(v.cached(token)).toBeDefined();
    clock.advance(1); // now == exp: RFC 7519 §4.1.4 wants now before exp
    expect(() => v.cached(token)).toThrow(expect.objectContaining({ code: 'token_expired' }));
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('re-checks max age on a hit', async () => {
    const clock = fakeClock();
    const v = verifier({ now: clock, clockTolerance: 0, maxTokenAge: 60 });
    const token = await sign(keys.rs256, validClaims({ iat: NOW }));
    await v.verify(token);
    clock.advance(61);
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'token_too_old' });
  });

  it('refuses a hit once the verifying key is no longer published', async () => {
    const source = countingKeys();
    const v = verifier({ keys: undefined, keySource: source });
    const token = await sign(keys.rs256, validClaims());
    await v.verify(token);
    source.published = false;
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'kid_unknown' });
  });

  it('never caches failures', async () => {
    const clock = fakeClock();
    const v = verifier({ now: clock, clockTolerance: 0 });
    const token = await sign(keys.rs256, validClaims({ nbf: NOW + 10 }));
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'token_not_yet_valid' });
    expect(v.cached(token)).toBeUndefined();
    clock.advance(10);
    await expect(v.verify(token)).resolves.toMatchObject({ token });
  });

  it('never lets a different token string hit', async () => {
    const v = verifier();
    const token = await sign(keys.rs256, validClaims());
    await v.verify(token);
    const tampered = withSegment(token, 1, b64json(validClaims({ sub: 'admin' })));
    expect(v.cached(tampered)).toBeUndefined();
    expect(v.cached(token.slice(0, -1))).toBeUndefined();
    await expect(v.verify(tampered)).rejects.toMatchObject({ code: 'signature_invalid' });
  });

  it('is not shared between verifiers with different settings', async () => {
    const token = await sign(keys.rs256, validClaims());
    await verifier().verify(token);
    await expect(verifier({ audience: 'api://other' }).verify(token)).rejects.toMatchObject({
      code: 'audience_mismatch',
    });
  });

  it('stays within max entries', async () => {
    const v = verifier({ tokenCache: { max: 2 } });
    const tokens = await Promise.all(
      [1, 2, 3].map((i) => sign(keys.rs256, validClaims({ jti: `t${i}` }))),
    );
    for (const t of tokens) await v.verify(t);
    expect(v.cached(tokens[0]!)).toBeUndefined();
    expect(v.cached(tokens[2]!)).toBeDefined();
  });

  it('can be turned off', async () => {
    const v = verifier({ tokenCache: false });
    const token = await sign(keys.rs256, validClaims());
    await v.verify(token);
    expect(v.cached(token)).toBeUndefined();
  });
});

describe('a broken clock fails closed', () => {
  function recordingLogger() {
    const errors: Record<string, unknown>[] = [];
    return { errors, warn: () => {}, error: (obj: object) => void errors.push({ ...obj }) };
  }

  it.each([
    ['NaN', NaN],
    ['undefined', undefined],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a numeric string', '1767225600'],
  ])('refuses every token while now() reads %s (503)', async (_name, reading) => {
    const token = await sign(keys.rs256, validClaims({ exp: NOW - 30 }));
    const v = verifier({ now: () => reading as number, logger: recordingLogger() });
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'clock_unavailable', status: 503 });
  });

  it('refuses a cached token too, and logs once per outage', async () => {
    let reading = NOW;
    const logger = recordingLogger();
    const v = verifier({ now: () => reading, logger });
    const token = await sign(keys.rs256, validClaims({ exp: NOW + 30 }));
    await v.verify(token);
    reading = NaN;
    expect(() => v.cached(token)).toThrow(expect.objectContaining({ code: 'clock_unavailable' }));
    for (let i = 0; i < 3; i++) {
      await expect(v.verify(token)).rejects.toMatchObject({ code: 'clock_unavailable' });
    }
    expect(logger.errors).toEqual([{ event: 'clock_invalid', type: 'number' }]);
    // The cache entry survived the outage: the clock said nothing about the token.
    reading = NOW + 1;
    expect(v.cached(token)).toBeDefined();
    reading = NaN;
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'clock_unavailable' });
    expect(logger.errors).toHaveLength(2);
  });

  it('asks the key source nothing while the clock is broken', async () => {
    let calls = 0;
    const source: KeySource = {
      getKeys: () => {
        calls++;
        return [];
      },
      isPublished: () => true,
      refresh: async () => {},
    };
    const v = verifier({
      keys: undefined,
      keySource: source,
      now: () => NaN,
      logger: recordingLogger(),
    });
    await expect(v.verify(await sign(keys.rs256, validClaims()))).rejects.toMatchObject({
      code: 'clock_unavailable',
    });
    expect(calls).toBe(0);
  });
});

describe('telemetry', () => {
  it('emits token.verified, cache.hit and token.rejected, never the token', async () => {
    const events: { type: string }[] = [];
    const clock = fakeClock();
    const v = verifier({ onEvent: (e) => events.push(e), now: clock, clockTolerance: 0 });
    const token = await sign(keys.rs256, validClaims({ exp: NOW + 10 }));
    await v.verify(token);
    v.cached(token);
    clock.advance(11);
    expect(() => v.cached(token)).toThrow();
    await expect(v.verify('garbage')).rejects.toThrow();
    expect(events.map((e) => e.type)).toEqual([
      'token.verified',
      'cache.hit',
      'token.rejected',
      'token.rejected',
    ]);
    expect(events[2]).toMatchObject({ code: 'token_expired' });
    expect(events[3]).toMatchObject({ code: 'token_malformed' });
    expect(JSON.stringify(events)).not.toContain(token.split('.')[1]);
  });

  it('publishes to the diagnostics channel, and a throwing sink changes nothing', async () => {
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
    const seen: unknown[] = [];
    const listener = (e: unknown) => seen.push(e);
    subscribe(EVENT_CHANNEL, listener);
    try {
      const v = verifier({
        onEvent: () => {
          throw new Error('sink bug');
        },
      });
      await expect(v.verify(await sign(keys.rs256, validClaims()))).resolves.toBeDefined();
      expect(seen).toEqual([expect.objectContaining({ type: 'token.verified', alg: 'RS256' })]);
    } finally {
      unsubscribe(EVENT_CHANNEL, listener);
    }
  });
});

describe('sender-constrained tokens through verify() alone', () => {
  const bound = [
    { name: 'DPoP-bound (cnf.jkt)', cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } },
    {
      name: 'certificate-bound (cnf.x5t#S256)',
      cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' },
    },
  ];
  it.each(bound)('refuses a $name token: the binding needs the request', async ({ cnf }) => {
    const v = verifier();
    const token = await sign(keys.rs256, validClaims({ cnf }));
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'token_binding_mismatch' });
    // Verified once and cached; a cache hit is refused the same way.
    expect(() => v.cached(token)).toThrow(
      expect.objectContaining({ code: 'token_binding_mismatch' }),
    );
  });

  it.each(bound)('accepts a $name token when the caller checks the binding', async ({ cnf }) => {
    const v = verifier();
    const token = await sign(keys.rs256, validClaims({ cnf }));
    const checked = { bindingChecked: true };
    await expect(v.verify(token, undefined, checked)).resolves.toHaveProperty('payload.cnf', cnf);
    expect(v.cached(token, checked)).toHaveProperty('payload.cnf', cnf);
  });

  // DESIGN: a bound token is never silently a bearer token, also when bound by an RFC 7800
  // method tokengate cannot check; refused even when the caller checks jkt / x5t#S256 itself.
  const refused: { name: string; cnf: unknown; code: string; reason: string }[] = [
    ...['jwk', 'jku', 'kid', 'jwe', 'x5t'].map((member) => ({
      name: `cnf.${member}`,
      cnf: { [member]: 'some-key' },
      code: 'token_binding_mismatch',
      reason: 'token is bound by an unsupported confirmation method',
    })),
    {
      name: 'cnf.jkt beside cnf.jwk',
      cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs', jwk: {} },
      code: 'token_binding_mismatch',
      reason: 'token is bound by an unsupported confirmation method',
    },
    ...[
      ['a string', 'jkt'],
      ['an array', ['jkt']],
      ['null', null],
      ['a number', 1],
    ].map(([name, cnf]) => ({
      name: `cnf that is ${name as string}`,
      cnf,
      code: 'claim_invalid',
      reason: '"cnf" is not an object',
    })),
  ];
  it.each(refused)('refuses $name with $code', async ({ cnf, code, reason }) => {
    const token = await sign(keys.rs256, validClaims({ cnf }));
    for (const options of [undefined, { bindingChecked: true }]) {
      const v = verifier();
      await expect(v.verify(token, undefined, options)).rejects.toMatchObject({ code, reason });
      expect(() => v.cached(token, options)).toThrow(expect.objectContaining({ code }));
    }
  });

  it('accepts an empty cnf (it binds to nothing)', async () => {
    const token = await sign(keys.rs256, validClaims({ cnf: {} }));
    await expect(verifier().verify(token)).resolves.toHaveProperty('payload.cnf', {});
  });
});
