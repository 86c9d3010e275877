import { CompactEncrypt, importJWK } from 'jose';
import type { JWK } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/verifier.js';
import type { VerificationErrorCode } from '../../src/errors.js';
import type { VerifierOptions } from '../../src/config/options.js';
import { viaDecryptionLayer, viaJose, viaSignatureLayer } from './layers.js';
import type { DecryptionOutcome, SignatureOutcome } from './layers.js';
import { createTally, readVector } from './load.js';
import type { VectorJwk } from './load.js';

// RFC 7520 (JOSE cookbook) examples that a bearer token can be: the compact serializations.
// JSON-only examples (4.6–4.8, 5.10–5.13) and detached content (4.5) are not tokens.

interface JwsExample {
  title: string;
  input: { payload: string; key: VectorJwk; alg: string };
  output: { compact: string };
}

interface JweExample {
  title: string;
  input: { plaintext: string; key?: VectorJwk; pwd?: string; alg: string; enc: string };
  output: { compact: string };
}

const PUBLIC_MEMBERS = ['kty', 'kid', 'use', 'alg', 'crv', 'x', 'y', 'n', 'e'];
/** What a receiver holds: the public members, or the whole JWK for a shared (`oct`) secret. */
function publicPart(jwk: VectorJwk): VectorJwk {
  if (jwk.kty === 'oct') return jwk;
  return Object.fromEntries(Object.entries(jwk).filter(([k]) => PUBLIC_MEMBERS.includes(k)));
}

const JWS: { file: string; alg: string }[] = [
  { file: 'jws/4_1.rsa_v15_signature.json', alg: 'RS256' },
  { file: 'jws/4_2.rsa-pss_signature.json', alg: 'PS384' },
  { file: 'jws/4_3.ecdsa_signature.json', alg: 'ES512' },
  // HMAC: the key is a shared secret, accepted only as a static key (allowSymmetric).
  { file: 'jws/4_4.hmac-sha2_integrity_protection.json', alg: 'HS256' },
  { file: 'curve25519/jws.json', alg: 'EdDSA' },
];

/** The compact JWE examples and what tokengate does with each. */
const JWE: {
  file: string;
  alg: string;
  expect: 'decrypted' | VerificationErrorCode;
  reason?: string;
}[] = [
  {
    file: 'jwe/5_1.key_encryption_using_rsa_v15_and_aes-hmac-sha2.json',
    alg: 'RSA1_5',
    expect: 'alg_not_allowed',
    reason: 'RSA1_5 is refused by policy (RFC 8725 §3.2: padding oracles)',
  },
  {
    file: 'jwe/5_2.key_encryption_using_rsa-oaep_with_aes-gcm.json',
    alg: 'RSA-OAEP',
    expect: 'decrypted',
  },
  {
    file: 'jwe/5_3.key_wrap_using_pbes2-aes-keywrap_with-aes-cbc-hmac-sha2.json',
    alg: 'PBES2-HS512+A256KW',
    expect: 'alg_not_allowed',
    reason:
      'PBES2 is refused by policy (a password-derived key; the iteration count is a DoS knob)',
  },
  {
    file: 'jwe/5_4.key_agreement_with_key_wrapping_using_ecdh-es_and_aes-keywrap_with_aes-gcm.json',
    alg: 'ECDH-ES+A128KW',
    expect: 'decrypted',
  },
  {
    file: 'jwe/5_5.key_agreement_using_ecdh-es_with_aes-cbc-hmac-sha2.json',
    alg: 'ECDH-ES',
    expect: 'decrypted',
  },
  { file: 'jwe/5_6.direct_encryption_using_aes-gcm.json', alg: 'dir', expect: 'decrypted' },
  {
    file: 'jwe/5_7.key_wrap_using_aes-gcm_keywrap_with_aes-cbc-hmac-sha2.json',
    alg: 'A256GCMKW',
    expect: 'decrypted',
  },
  {
    file: 'jwe/5_8.key_wrap_using_aes-keywrap_with_aes-gcm.json',
    alg: 'A128KW',
    expect: 'decrypted',
  },
  {
    file: 'jwe/5_9.compressed_content.json',
    alg: 'A128KW',
    expect: 'token_malformed',
    reason:
      '"zip" is refused unless a bound on the inflated size is configured (compression bombs)',
  },
  { file: 'curve25519/ecdh-es.json', alg: 'ECDH-ES', expect: 'decrypted' },
];

const tally = createTally('rfc7520');
afterAll(() => console.log(tally.line()));

describe('RFC 7520 compact JWS through the signature layer', () => {
  it.each(JWS)('$file ($alg) verifies, as with jose', async ({ file, alg }) => {
    const example = readVector<JwsExample>(`rfc7520/${file}`);
    expect(example.input.alg).toBe(alg);
    const key = publicPart(example.input.key);
    const outcome: SignatureOutcome = viaSignatureLayer(example.output.compact, key);
    tally.record(file, outcome === 'accepted' ? 'passed' : 'unexplained', outcome);
    expect(outcome).toBe('accepted');
    expect(await viaJose(example.output.compact, key)).toBe(true);
    expect(Buffer.from(example.output.compact.split('.')[1]!, 'base64url').toString()).toBe(
      example.input.payload,
    );
  });

  it.each(JWS)('$file with one signature bit flipped is refused', ({ file }) => {
    const example = readVector<JwsExample>(`rfc7520/${file}`);
    const [h, p, s] = example.output.compact.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[0]! ^= 0x01;
    // The public half, as a key set publishes it (a key with its private half is refused).
    const key = publicPart(example.input.key);
    const outcome = viaSignatureLayer(`${h}.${p}.${sig.toString('base64url')}`, key);
    expect(outcome).toBe('signature_invalid');
  });
});

describe('RFC 7520 compact JWE through the decryption layer', () => {
  it.each(JWE)('$file ($alg): $expect', async ({ file, alg, expect: want, reason }) => {
    const example = readVector<JweExample>(`rfc7520/${file}`);
    expect(example.input.alg).toBe(alg);
    // PBES2 has a password, not a JWK: any key will do, the token is refused before key use.
    const key = example.input.key ?? {
      kty: 'oct',
      k: Buffer.from(example.input.pwd!).toString('base64url'),
    };
    const outcome: DecryptionOutcome = await viaDecryptionLayer(example.output.compact, key);
    if (want === 'decrypted') {
      const plaintext = Buffer.from(example.input.plaintext).toString('hex');
      tally.record(
        file,
        'plaintext' in outcome && outcome.plaintext === plaintext ? 'passed' : 'unexplained',
      );
      expect(outcome).toEqual({ plaintext });
    } else {
      // Every RFC 7520 example is valid: a refusal is a departure, by policy.
      tally.record(file, 'code' in outcome && outcome.code === want ? 'departure' : 'unexplained');
      expect(outcome, reason).toEqual({ code: want });
    }
  });
});

describe('RFC 7520 refusals by policy happen before any key operation', () => {
  // With a key that cannot open the token, a refusal that came from jose would be
  // `decryption_failed`; ours comes from the header alone.
  const wrongKey = { kty: 'oct', k: Buffer.alloc(16, 7).toString('base64url') };
  it.each(JWE.filter((c) => c.expect !== 'decrypted'))('$file', async ({ file, expect: want }) => {
    const example = readVector<JweExample>(`rfc7520/${file}`);
    expect(await viaDecryptionLayer(example.output.compact, wrongKey)).toEqual({ code: want });
  });
});

describe('RFC 7520 §6 nested signatures and encryption through createVerifier', () => {
  interface NestedExample {
    sign: JwsExample;
    encrypt: JweExample & { input: { key: VectorJwk } };
  }
  const example = readVector<NestedExample>('rfc7520/6.nesting_signatures_and_encryption.json');
  const token = example.encrypt.output.compact;
  const EXP = 1_300_819_380; // the inner claim set's exp (2011-03-22)

  // The example has no `aud` and no `kid`; a dummy audience makes audience the one check that
  // fails, so reaching it proves decryption, the PS256 signature, typ, exp and iss all passed.
  const options: VerifierOptions = {
    issuer: 'hobbiton.example',
    audience: 'api://not-in-the-example',
    keys: [publicPart(example.sign.input.key) as JWK],
    algorithms: ['PS256'],
    decryption: {
      keys: [example.encrypt.input.key as JWK],
      keyManagementAlgorithms: ['RSA-OAEP'],
      contentEncryptionAlgorithms: ['A128GCM'],
    },
    tokenCache: false,
    now: () => EXP - 60,
  };

  const cases: {
    name: string;
    token: () => Promise<string>;
    options?: Partial<VerifierOptions>;
    code: VerificationErrorCode;
  }[] = [
    {
      name: 'the example, failing only on the dummy audience',
      token: async () => token,
      code: 'audience_mismatch',
    },
    {
      name: 'the example from another issuer',
      token: async () => token,
      options: { issuer: 'bree.example' },
      code: 'issuer_mismatch',
    },
    {
      name: 'the example one tolerance past exp',
      token: async () => token,
      options: { now: () => EXP + 6 },
      code: 'token_expired',
    },
    {
      name: 'the example with RSA-OAEP not allowed',
      token: async () => token,
      options: {
        decryption: { ...options.decryption!, keyManagementAlgorithms: ['RSA-OAEP-256'] },
      },
      code: 'alg_not_allowed',
    },
    {
      name: 'the example with PS256 not allowed',
      token: async () => token,
      options: { algorithms: ['RS256'] },
      code: 'alg_not_allowed',
    },
    {
      name: 'a tampered ciphertext',
      token: async () => {
        const parts = token.split('.');
        const ciphertext = parts[3]!;
        parts[3] = (ciphertext[0] === 'A' ? 'B' : 'A') + ciphertext.slice(1);
        return parts.join('.');
      },
      code: 'decryption_failed',
    },
    {
      name: 'the inner JWS with a flipped signature bit, re-encrypted to the same key',
      token: async () => {
        const [h, p, s] = example.sign.output.compact.split('.') as [string, string, string];
        const sig = Buffer.from(s, 'base64url');
        sig[10]! ^= 0x01;
        const inner = `${h}.${p}.${sig.toString('base64url')}`;
        const key = await importJWK(publicPart(example.encrypt.input.key) as JWK, 'RSA-OAEP');
        return new CompactEncrypt(new TextEncoder().encode(inner))
          .setProtectedHeader({ alg: 'RSA-OAEP', enc: 'A128GCM', cty: 'JWT' })
          .encrypt(key);
      },
      code: 'signature_invalid',
    },
  ];

  it('is the nested token the README describes', () => {
    expect(example.encrypt.input.plaintext).toBe(example.sign.output.compact);
    expect(example.sign.input.alg).toBe('PS256');
    expect(example.encrypt.input.alg).toBe('RSA-OAEP');
  });

  it.each(cases)('refuses $name with $code', async ({ token: make, options: extra, code }) => {
    const verifier = createVerifier({ ...options, ...extra });
    const rejection = verifier.verify(await make());
    await expect(rejection).rejects.toMatchObject({ name: 'VerificationError', code });
    if (code === 'audience_mismatch') tally.record('6 nested', 'passed');
  });
});

describe('rfc7520 totals', () => {
  it('has no unexplained case', () => {
    expect(tally.size).toBe(JWS.length + JWE.length + 1);
    expect(tally.unexplained()).toEqual([]);
  });
});
