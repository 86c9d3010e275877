// Tokens every adapter refuses, one row per check of the verification pipeline.
import { expect } from 'vitest';
import {
  decryptionKeys,
  encryption,
  hmacSecret,
  rogueKey,
  signing,
} from '@tokengate/test-fixtures/keys';
import {
  ISSUER,
  claims,
  encrypt,
  nested,
  sign,
  signWith,
  unsecured,
  withHeaderSegment,
} from '@tokengate/test-fixtures/tokens';
import type { Case, LogHints } from './case.js';
import { es256Hints, ok, rejected, unavailable } from './expect.js';
import { PARTNER, bearer, cachedToken, multiIssuer, sendOk } from './requests.js';

const TOO_LARGE = 'token is too large';
const ENC_NOT_ALLOWED = 'token encryption algorithm is not allowed';
const UNDECRYPTABLE = 'token could not be decrypted';
/** What the record names for a JWE refused before its inner token is read: the JWE's kid and alg. */
const jweHints = (kid = encryption.rsaOaep.kid): LogHints => ({ kid, alg: 'RSA-OAEP-256' });

export const rejectedCases: Case[] = [
  // The compact form, before any key is used.
  {
    name: 'malformed token header (not JSON)',
    request: async () => bearer(withHeaderSegment(await sign(claims()), 'not json')),
    expect: rejected('token_malformed', 'token is malformed'),
  },
  {
    name: 'malformed token (two parts)',
    request: async () => bearer('eyJhbGciOiJFUzI1NiJ9.e30'),
    expect: rejected('token_malformed', 'token is malformed'),
  },
  {
    name: 'a token longer than maxTokenLength is token_too_large, before it is parsed',
    options: () => ({ maxTokenLength: 1024 }),
    request: async () => bearer(await sign(claims({ pad: 'x'.repeat(1024) }))),
    expect: rejected('token_too_large', TOO_LARGE),
  },

  // Signature and keys.
  {
    name: 'bad signature (published kid, other key)',
    request: async () => bearer(await sign(claims(), { key: rogueKey, kid: signing.es256.kid })),
    expect: rejected('signature_invalid', 'token signature is invalid', es256Hints()),
  },
  {
    name: 'unknown kid',
    request: async () => bearer(await sign(claims(), { key: rogueKey })),
    expect: rejected('kid_unknown', 'token signing key is unknown', {
      kid: rogueKey.kid,
      alg: 'ES256',
      iss: ISSUER,
    }),
  },
  {
    name: 'alg none',
    request: async () => bearer(unsecured(claims())),
    expect: rejected('alg_not_allowed', 'token algorithm is not allowed', {
      alg: 'none',
      iss: ISSUER,
    }),
  },
  {
    name: 'alg not allowed (HS256)',
    request: async () => bearer(await signWith(claims(), hmacSecret, { alg: 'HS256' })),
    expect: rejected('alg_not_allowed', 'token algorithm is not allowed', {
      alg: 'HS256',
      iss: ISSUER,
    }),
  },
  {
    name: 'alg not in a narrowed allow-list (RS256 when only ES256 is allowed)',
    options: () => ({ algorithms: ['ES256'] }),
    request: async () => bearer(await sign(claims(), { key: signing.rs256 })),
    expect: rejected('alg_not_allowed', 'token algorithm is not allowed', {
      kid: signing.rs256.kid,
      alg: 'RS256',
      iss: ISSUER,
    }),
  },

  // Encryption (RFC 7516), checked on the JWE header before any key operation.
  {
    name: 'encryption required but plain JWS',
    options: () => ({ requireEncryption: true }),
    request: async () => bearer(await sign(claims())),
    expect: rejected('encryption_required', 'token must be encrypted', es256Hints()),
  },
  {
    name: 'encryption required and nested JWE',
    options: () => ({ requireEncryption: true }),
    request: async () => bearer(await nested(claims())),
    expect: ok('open', true),
  },
  {
    name: 'a JWE "enc" outside a narrowed allow-list is enc_not_allowed',
    options: () => ({
      decryption: { keys: decryptionKeys, contentEncryptionAlgorithms: ['A256GCM'] },
    }),
    request: async () => bearer(await nested(claims(), { encrypt: { enc: 'A128GCM' } })),
    expect: rejected('enc_not_allowed', ENC_NOT_ALLOWED, jweHints()),
  },
  {
    name: 'a JWE "enc" outside the default allow-list (A192GCM) is enc_not_allowed',
    request: async () => bearer(await nested(claims(), { encrypt: { enc: 'A192GCM' } })),
    expect: rejected('enc_not_allowed', ENC_NOT_ALLOWED, jweHints()),
  },
  {
    name: 'a JWE to a kid the receiver does not hold is decryption_failed',
    request: async () =>
      bearer(await nested(claims(), { encrypt: { kid: 'enc-retired-2025-01-01' } })),
    expect: rejected('decryption_failed', UNDECRYPTABLE, {
      ...jweHints('enc-retired-2025-01-01'),
      reason: 'no decryption key has this "kid"',
    }),
  },
  {
    name: "a JWE with a tampered ciphertext under the receiver's kid is decryption_failed",
    request: async () => {
      const [header, key, iv, ciphertext, tag] = (await encrypt(await sign(claims()))).split('.');
      const flipped = `${ciphertext!.startsWith('A') ? 'B' : 'A'}${ciphertext!.slice(1)}`;
      return bearer([header, key, iv, flipped, tag].join('.'));
    },
    expect: rejected('decryption_failed', UNDECRYPTABLE, jweHints()),
  },

  // Time (RFC 7519 §4.1.4-6), on the fake clock.
  {
    name: 'expired (exp 6 s ago, tolerance 5 s)',
    request: async ({ clock }) => bearer(await sign(claims({ exp: clock.now() - 6 }))),
    expect: rejected('token_expired', 'token has expired', es256Hints()),
  },
  {
    name: 'exp equal to now with clockTolerance 0 (RFC 7519 §4.1.4)',
    options: () => ({ clockTolerance: 0 }),
    request: async ({ clock }) => bearer(await sign(claims({ exp: clock.now() }))),
    expect: rejected('token_expired', 'token has expired', es256Hints()),
  },
  {
    name: 'a clock that reads NaN fails closed (503), not open',
    options: () => ({ now: () => NaN }),
    request: async ({ clock }) => bearer(await sign(claims({ exp: clock.now() - 30 }))),
    expect: unavailable('clock_unavailable', 'server clock is temporarily unavailable'),
  },
  {
    name: 'not yet valid (nbf 6 s ahead, tolerance 5 s)',
    request: async ({ clock }) => bearer(await sign(claims({ nbf: clock.now() + 6 }))),
    expect: rejected('token_not_yet_valid', 'token is not yet valid', es256Hints()),
  },
  {
    name: 'a cached token that has since expired',
    before: async ({ app, clock }) => {
      await sendOk(app, bearer(await cachedToken));
      clock.advance(300 + 6);
    },
    request: async () => bearer(await cachedToken),
    expect: rejected('token_expired', 'token has expired', es256Hints()),
  },
  {
    name: 'issued longer ago than maxTokenAge (iat 66 s ago, 60 s + 5 s tolerance)',
    options: () => ({ maxTokenAge: '60s' }),
    request: async ({ clock }) => bearer(await sign(claims({ iat: clock.now() - 66 }))),
    expect: rejected('token_too_old', 'token is too old', es256Hints()),
  },
  {
    name: 'issued exactly maxTokenAge + tolerance ago passes',
    options: () => ({ maxTokenAge: '60s' }),
    request: async ({ clock }) => bearer(await sign(claims({ iat: clock.now() - 65 }))),
    expect: ok(),
  },

  // Issuers.
  {
    name: 'a second listed issuer, verified with its own keys',
    options: multiIssuer,
    request: async () => bearer(await sign(claims({ iss: PARTNER }), { key: rogueKey })),
    expect: ok(),
  },
  {
    name: "a token claiming the second issuer, signed with the first issuer's key",
    options: multiIssuer,
    request: async () => bearer(await sign(claims({ iss: PARTNER }))),
    expect: rejected('kid_unknown', 'token signing key is unknown', es256Hints(PARTNER)),
    // The partner's keys are static: the first issuer's key server is never asked.
    after: ({ jwks }) => expect(jwks.count()).toBe(0),
  },
  {
    name: 'an issuer outside the list costs no key-server request',
    options: multiIssuer,
    request: async () => bearer(await sign(claims({ iss: 'https://evil.test/' }))),
    expect: rejected(
      'issuer_mismatch',
      'token issuer is not trusted',
      es256Hints('https://evil.test/'),
    ),
    after: ({ jwks }) => expect(jwks.count()).toBe(0),
  },
  {
    name: 'wrong issuer',
    request: async () => bearer(await sign(claims({ iss: 'https://evil.test/' }))),
    expect: rejected(
      'issuer_mismatch',
      'token issuer is not trusted',
      es256Hints('https://evil.test/'),
    ),
  },

  // Identity claims and explicit typing (RFC 8725 §3.11).
  {
    name: 'wrong audience',
    request: async () => bearer(await sign(claims({ aud: 'api://billing' }))),
    expect: rejected('audience_mismatch', 'token audience does not match', es256Hints()),
  },
  {
    name: 'typ JWT where typ at+jwt is required is typ_mismatch',
    options: () => ({ typ: 'at+jwt' }),
    request: async () => bearer(await sign(claims(), { typ: 'JWT' })),
    expect: rejected('typ_mismatch', 'token type does not match', es256Hints()),
  },
  {
    name: 'typ application/at+jwt satisfies typ at+jwt',
    options: () => ({ typ: 'at+jwt' }),
    request: async () => bearer(await sign(claims(), { typ: 'application/at+jwt' })),
    expect: ok(),
  },
  {
    name: 'a required claim absent is claim_missing',
    options: () => ({ requiredClaims: ['jti'] }),
    request: async () => bearer(await sign(claims())),
    expect: rejected('claim_missing', 'token is missing a required claim', {
      ...es256Hints(),
      reason: '"jti" is missing',
    }),
  },
];
