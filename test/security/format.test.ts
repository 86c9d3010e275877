// Attack class: the compact serialization itself (RFC 7515 §7.1, RFC 7519 §7.2, RFC 8725 §3.11).
// Non-canonical base64url, whitespace, wrong part counts, duplicate JSON members, payloads that
// are not claim sets, critical extensions, size. Through real HTTP in every adapter.
import { describe, expect, it } from 'vitest';
import { createVerifier, isVerificationError } from '@tokengate/core';
import type { KeySource, VerificationErrorCode } from '@tokengate/core';
import { encryption, issuerJwks } from '@tokengate/test-fixtures/keys';
import { AUDIENCE, ISSUER, claims } from '@tokengate/test-fixtures/tokens';
import { b64u, craftJwe, craftJws, esHeader, nonCanonical } from './craft.js';
import { describeAttacks, drivers, expectAccepted, expectRefused, gateFixture } from './harness.js';
import type { AttackCase } from './harness.js';

const payload = (extra: Record<string, unknown> = {}) =>
  ({ ...claims(), ...extra }) as Record<string, unknown>;
const honest = () => craftJws({ header: esHeader(), payload: payload() });
/** A token whose `part` segment has unused bits (JSON padded with spaces until it has). */
function withSpareBits(part: 0 | 1 | 2): string[] {
  for (let pad = 0; ; pad++) {
    const header = JSON.stringify(esHeader()) + ' '.repeat(part === 0 ? pad : 0);
    const body = JSON.stringify(payload()) + ' '.repeat(part === 1 ? pad : 0);
    const token = craftJws({ header, payload: body }).split('.');
    if (token[part]!.length % 4 !== 0) return token;
  }
}

function replaceSegment(part: 0 | 1 | 2, change: (segment: string) => string): string {
  const parts = withSpareBits(part);
  parts[part] = change(parts[part]!);
  return parts.join('.');
}

// A signature segment that contains a base64url-only character, to respell in standard base64.
function withUrlAlphabet(): string[] {
  for (let i = 0; i < 50; i++) {
    const parts = honest().split('.');
    if (/[-_]/.test(parts[2]!)) return parts;
  }
  throw new Error('no signature with - or _ in 50 tries');
}

const SEGMENTS = ['header', 'payload', 'signature'] as const;

const base64Cases: AttackCase[] = [
  {
    name: 'control: an honest token is accepted',
    token: honest,
    expect: 'accepted',
  },
  ...SEGMENTS.map((what, i): AttackCase => ({
    name: `non-canonical base64url in the ${what} (non-zero trailing bits)`,
    token: () => replaceSegment(i as 0 | 1 | 2, nonCanonical),
    expect: 'token_malformed',
  })),
  {
    name: 'standard base64 alphabet ("+" and "/") in the signature',
    token: () => {
      const parts = withUrlAlphabet();
      parts[2] = parts[2]!.replace(/-/g, '+').replace(/_/g, '/');
      return parts.join('.');
    },
    expect: 'token_malformed',
  },
  {
    name: 'base64 padding ("=") after the signature',
    token: () => replaceSegment(2, (s) => s + '='.repeat(4 - (s.length % 4))),
    expect: 'token_malformed',
  },
  {
    name: 'base64 padding ("=") in the header, sent as a query parameter',
    carrier: 'query',
    token: () => replaceSegment(0, (s) => s + '='.repeat(4 - (s.length % 4))),
    expect: 'token_malformed',
  },
  {
    name: 'a segment of impossible length (4n + 1 characters)',
    token: () =>
      replaceSegment(2, (s) => s + 'A'.repeat(s.length % 4 === 1 ? 4 : 5 - (s.length % 4))),
    expect: 'token_malformed',
  },
];

// Whitespace cannot pass the Authorization header syntax (400); through the query string it
// reaches core, which refuses it as malformed.
const whitespaceCases: AttackCase[] = [
  ...(
    [
      ['a space inside the payload', (t: string) => t.replace('.', '. ')],
      ['a line feed inside the signature', (t: string) => t.slice(0, -10) + '\n' + t.slice(-10)],
      ['a tab before the signature', (t: string) => t.replace(/\.([^.]*)$/, '.\t$1')],
      ['a leading space', (t: string) => ` ${t}`],
      ['a trailing CRLF', (t: string) => `${t}\r\n`],
      ['a NUL byte at the end', (t: string) => `${t}\u0000`],
      ['a no-break space inside the header', (t: string) => t.slice(0, 5) + '\u00a0' + t.slice(5)],
    ] as const
  ).map(([what, change]): AttackCase => ({
    name: `${what} (query parameter)`,
    carrier: 'query',
    token: () => change(honest()),
    expect: 'token_malformed',
  })),
];

const partCases: AttackCase[] = [
  ...(
    [
      ['one part', () => b64u('{"alg":"ES256"}')],
      ['two parts', () => honest().split('.').slice(0, 2).join('.')],
      ['four parts (an extra segment)', () => `${honest()}.${b64u('x')}`],
      ['four parts (a trailing dot)', () => `${honest()}.`],
      ['six parts', () => `${honest()}.a.b.c`],
      ['a leading dot', () => `.${honest()}`],
      ['an empty header', () => `.${honest().split('.').slice(1).join('.')}`],
      ['only dots', () => '....'],
      ['two tokens joined by a dot', () => `${honest()}.${honest()}`],
    ] as const
  ).map(([what, make]): AttackCase => ({ name: what, token: make, expect: 'token_malformed' })),
  {
    name: 'empty payload segment',
    token: () => craftJws({ header: esHeader(), payload: '' }),
    expect: 'token_malformed',
  },
];

// RFC 7515 §4 / RFC 7519 §4: member names must be unique. tokengate rejects duplicates rather
// than silently using the last one: two parsers that pick different members must not disagree
// about who the token is for.
const sign = (header: string, body: string) => craftJws({ header, payload: body });
const esHeaderText = JSON.stringify(esHeader()).slice(1, -1);
const payloadText = JSON.stringify(payload()).slice(1, -1);
const duplicateCases: AttackCase[] = [
  ...(
    [
      [
        '"alg" twice in the header (none, then ES256)',
        `{"alg":"none",${esHeaderText}}`,
        `{${payloadText}}`,
      ],
      ['"kid" twice in the header', `{${esHeaderText},"kid":"other"}`, `{${payloadText}}`],
      [
        '"alg" twice, once spelled with a \\u escape',
        `{${esHeaderText},"\\u0061lg":"ES256"}`,
        `{${payloadText}}`,
      ],
      ['"sub" twice in the payload', `{${esHeaderText}}`, `{${payloadText},"sub":"admin"}`],
      [
        '"iss" twice in the payload',
        `{${esHeaderText}}`,
        `{"iss":"https://evil.test/",${payloadText}}`,
      ],
      ['"exp" twice in the payload', `{${esHeaderText}}`, `{${payloadText},"exp":9999999999}`],
      [
        'a duplicate inside a nested object',
        `{${esHeaderText}}`,
        `{${payloadText},"cnf":{"jkt":"a","jkt":"b"}}`,
      ],
    ] as const
  ).map(([what, header, body]): AttackCase => ({
    name: `duplicate member: ${what}`,
    token: () => sign(header, body),
    expect: 'token_malformed',
  })),
  {
    name: 'duplicate member in the JWE protected header ("enc" twice)',
    token: async () =>
      craftJwe({
        header: `{"alg":"RSA-OAEP-256","enc":"A128GCM","kid":"${encryption.rsaOaep.kid}","cty":"JWT","enc":"A256GCM"}`,
        plaintext: honest(),
      }),
    expect: 'token_malformed',
  },
  {
    name: 'duplicate member in the plaintext claims of an encrypted token',
    options: () => ({
      decryption: { keys: [encryption.rsaOaep.privateJwk], allowUnsignedClaims: true },
    }),
    token: async () =>
      craftJwe({
        header: { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: encryption.rsaOaep.kid },
        plaintext: `{${payloadText},"sub":"admin"}`,
      }),
    expect: 'token_malformed',
  },
  {
    name: 'control: the same member name in two different objects is accepted',
    token: () =>
      sign(`{${esHeaderText}}`, `{${payloadText},"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":2}]}`),
    expect: 'accepted',
  },
  {
    name: 'control: a string value that looks like a member is accepted',
    token: () =>
      sign(`{${esHeaderText}}`, `{${payloadText},"note":"\\"sub\\":\\"admin\\"","x":"a\\\\"}`),
    expect: 'accepted',
  },
];

const nonObjectCases: AttackCase[] = [
  ...['123', '"claims"', '[]', JSON.stringify([payload()]), 'null', 'true', 'hello', '{"iss":'].map(
    (body): AttackCase => ({
      name: `payload ${body.length > 20 ? `${body.slice(0, 20)}…` : body} (not a JSON object)`,
      token: () => craftJws({ header: esHeader(), payload: body }),
      expect: 'token_malformed',
    }),
  ),
  {
    name: 'payload that is not UTF-8',
    token: () =>
      craftJws({ header: esHeader(), payload: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) }),
    expect: 'token_malformed',
  },
  ...['[]', '"ES256"', 'null', '{"alg":null}', '{"alg":""}', '{"alg":["ES256"]}'].map(
    (header): AttackCase => ({
      name: `header ${header} (not a JOSE header)`,
      token: () => craftJws({ header, payload: payload(), alg: 'ES256' }),
      expect: 'token_malformed',
    }),
  ),
];

// RFC 8259 §8.1 lets a parser ignore a leading byte order mark; the TextDecoder does. The claims
// read are the same either way, so this is recorded as accepted rather than refused.
nonObjectCases.push(
  {
    name: 'control: a UTF-8 BOM before the payload JSON is ignored',
    token: () => craftJws({ header: esHeader(), payload: `\ufeff${JSON.stringify(payload())}` }),
    expect: 'accepted',
  },
  {
    name: 'control: a UTF-8 BOM before the header JSON is ignored',
    token: () =>
      craftJws({ header: `\ufeff${JSON.stringify(esHeader())}`, payload: payload(), alg: 'ES256' }),
    expect: 'accepted',
  },
);

const extensionCases: AttackCase[] = [
  ...(
    [
      ['crit naming an unknown extension', { crit: ['x-policy'], 'x-policy': 'mfa' }],
      ['crit naming a registered claim', { crit: ['exp'], exp: 1 }],
      ['crit empty', { crit: [] }],
      ['crit not a list', { crit: 'b64', b64: false }],
      ['crit with b64: false (RFC 7797 unencoded payload)', { crit: ['b64'], b64: false }],
      ['crit with b64: true', { crit: ['b64'], b64: true }],
      ['b64: false without crit', { b64: false }],
      ['"enc" on a JWS', { enc: 'A256GCM' }],
      ['"typ" that is not a string', { typ: ['at+jwt'] }],
      ['"cty" that is not a string', { cty: 7 }],
    ] as const
  ).map(([what, extra]): AttackCase => ({
    name: what,
    token: () => craftJws({ header: esHeader(extra), payload: payload() }),
    expect: 'token_malformed',
  })),
];

extensionCases.push({
  // RFC 7516 §4.1.3 defines "zip" for JWE only: on a JWS it is an unknown, ignored parameter
  // (the payload is never inflated), so it is not refused.
  name: 'control: "zip" on a JWS is an ignored parameter, nothing is inflated',
  token: () => craftJws({ header: esHeader({ zip: 'DEF' }), payload: payload() }),
  expect: 'accepted',
});

const sizeCases: AttackCase[] = [
  {
    name: 'token one character over maxTokenLength (an unknown kid, never fetched)',
    options: () => ({ maxTokenLength: 4096 }),
    token: ({ jwks }) => {
      requestsBefore = jwks.count();
      const pad = 'x'.repeat(3500);
      const token = craftJws({
        header: esHeader({ kid: 'never-fetched' }),
        payload: payload({ pad }),
      });
      return token + 'A'.repeat(Math.max(0, 4097 - token.length));
    },
    expect: 'token_too_large',
    after: ({ jwks }) => expect(jwks.count()).toBe(requestsBefore),
  },
  {
    name: 'garbage over maxTokenLength is too large before it is malformed',
    options: () => ({ maxTokenLength: 4096 }),
    token: () => '~'.repeat(5000),
    expect: 'token_too_large',
  },
  {
    name: 'control: a token of exactly maxTokenLength is read',
    options: () => ({ maxTokenLength: 4096 }),
    token: () => {
      for (let n = 2000; ; n++) {
        const token = craftJws({ header: esHeader(), payload: payload({ pad: 'x'.repeat(n) }) });
        if (token.length >= 4090) return token;
      }
    },
    expect: 'accepted',
  },
];
let requestsBefore = 0;

describeAttacks(
  [
    ...base64Cases,
    ...whitespaceCases,
    ...partCases,
    ...duplicateCases,
    ...nonObjectCases,
    ...extensionCases,
    ...sizeCases,
  ],
  issuerJwks,
);

describe.each(drivers)('$name: a payload "__proto__" member grants nothing', (driver) => {
  const env = gateFixture(driver);

  it('is an own member: no scope inherited, Object.prototype untouched', async () => {
    const body = `{"__proto__":{"scope":"orders:read orders:write","role":"admin"},${payloadText}}`;
    const token = sign(`{${esHeaderText}}`, body);
    env.gate.lastToken = token;
    const open = await env.gate.send(token);
    expectAccepted(env.gate, open);
    const write = await env.gate.sendHeaders({ authorization: `Bearer ${token}` }, '/orders/write');
    expectRefused(env.gate, write, 'scope_insufficient', {
      scope: ['orders:read', 'orders:write'],
    });
    const admin = await env.gate.sendHeaders({ authorization: `Bearer ${token}` }, '/admin');
    expectRefused(env.gate, admin, 'scope_insufficient');
    expect(({} as Record<string, unknown>).scope).toBeUndefined();
    expect(({} as Record<string, unknown>).role).toBeUndefined();
  });
});

describe('size limit comes before any work (core)', () => {
  it('a 1 MB token is token_too_large without asking the key source', async () => {
    let asked = 0;
    const keySource: KeySource = {
      getKeys: async () => {
        asked++;
        return [];
      },
      isPublished: () => false,
      refresh: async () => {},
    };
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, keySource });
    const huge = craftJws({
      header: esHeader({ kid: 'x' }),
      payload: payload({ pad: 'x'.repeat(1 << 20) }),
    });
    const codes: VerificationErrorCode[] = [];
    for (const token of [huge, '.'.repeat(1 << 20), `${'A'.repeat(1 << 20)}..`]) {
      const err = await verifier.verify(token).catch((e: unknown) => e);
      expect(isVerificationError(err)).toBe(true);
      codes.push((err as { code: VerificationErrorCode }).code);
    }
    expect(codes).toEqual(['token_too_large', 'token_too_large', 'token_too_large']);
    expect(asked).toBe(0);
  });
});
