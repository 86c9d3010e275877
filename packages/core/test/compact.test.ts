// The uncached JWS path (issue 16, §1): the one-pass reading of a compact token, the bounded memo
// of validated headers, the allocation-free duplicate-member check, the reused decode buffers and
// the synchronous pipeline. Each shortcut must give exactly the answer the long way gives.
import { beforeEach, describe, expect, it } from 'vitest';
import { createClock } from '@tokengate/test-fixtures/clock';
import { issuerJwks, signing } from '@tokengate/test-fixtures/keys';
import { AUDIENCE, ISSUER, claims } from '@tokengate/test-fixtures/tokens';
import { createVerifier, isVerificationError } from '../src/index.js';
import type { KeySource, VerificationError, VerifierOptions } from '../src/index.js';
import {
  HEADER_MEMO_MAX_LENGTH,
  HEADER_MEMO_SIZE,
  clearHeaderMemo,
  headerMemoSize,
  parsePayload,
  parseToken,
} from '../src/token/compact.js';
import type { ParsedJws } from '../src/token/compact.js';
import { MAX_JSON_DEPTH, jsonStructureProblem, parsedJsonProblem } from '../src/lib/json.js';
import { createScratch } from '../src/lib/scratch.js';
import { verifyJwsSignature } from '../src/token/signature.js';
import { importVerificationKey } from '../src/keys/jwk.js';
import { b64u, craftJws, esHeader, nonCanonical } from '../../../test/security/craft.js';
import { staticVerifier } from './helpers/static-verifier.js';

const MAX = 16 * 1024;
const honestPayload = () => claims() as Record<string, unknown>;
const honest = (header = esHeader(), payload: Record<string, unknown> | string = honestPayload()) =>
  craftJws({ header, payload });

function refusal(run: () => unknown): VerificationError {
  try {
    run();
  } catch (err) {
    if (isVerificationError(err)) return err;
    throw err;
  }
  throw new Error('expected a VerificationError');
}

function jws(token: string): ParsedJws {
  const parsed = parseToken(token, MAX, {});
  if (parsed.kind !== 'jws') throw new Error('not a JWS');
  return parsed;
}

const verifier = staticVerifier;

beforeEach(() => clearHeaderMemo());

describe('header memo', () => {
  it('tokens that share a header segment share one frozen header, whatever their other parts', () => {
    const a = honest();
    const b = honest(esHeader(), { ...honestPayload(), sub: 'someone-else' });
    expect(a.split('.')[0]).toBe(b.split('.')[0]);
    const first = jws(a);
    const second = jws(b);
    expect(second.header).toBe(first.header);
    expect(Object.isFrozen(second.header)).toBe(true);
    expect(parsePayload(second).sub).toBe('someone-else');
    expect(headerMemoSize()).toBe(1);
  });

  it('a memoized header cannot be changed by one token for the next', () => {
    const header = jws(honest()).header;
    expect(() => {
      (header as Record<string, unknown>).alg = 'none';
    }).toThrow(TypeError);
    expect(jws(honest()).header.alg).toBe('ES256');
  });

  it('the same header with another signature is judged on its own signature', async () => {
    const v = verifier();
    const good = honest();
    const [h, p, s] = good.split('.') as [string, string, string];
    await expect(v.verify(good)).resolves.toMatchObject({ header: { alg: 'ES256' } });
    // Same header segment (a memo hit), a signature of another input: refused.
    const other = honest(esHeader(), { ...honestPayload(), sub: 'x' }).split('.')[2]!;
    await expect(v.verify(`${h}.${p}.${other}`)).rejects.toMatchObject({
      code: 'signature_invalid',
    });
    // Same header and payload, signature respelled non-canonically: still malformed.
    const reshaped = s.length % 4 === 0 ? `${s.slice(0, -1)}` : nonCanonical(s);
    await expect(v.verify(`${h}.${p}.${reshaped}`)).rejects.toMatchObject({
      code: 'token_malformed',
    });
  });

  it('details come from the token at hand, never from the memo entry of another', () => {
    const withKid = (kid: string) => honest(esHeader({ kid }));
    parseToken(withKid('first'), MAX, {});
    const details: { kid?: string; alg?: string } = {};
    parseToken(withKid('second'), MAX, details);
    expect(details).toEqual({ alg: 'ES256', kid: 'second' });
    const again: { kid?: string } = {};
    parseToken(withKid('first'), MAX, again);
    expect(again.kid).toBe('first');
  });

  it.each([
    ['no "alg"', '{"typ":"JWT"}', 'header has no "alg"'],
    ['"crit"', '{"alg":"ES256","crit":["exp"],"exp":1}', 'header lists "crit" extensions'],
    ['"b64"', '{"alg":"ES256","b64":false}', '"b64" is not supported'],
    ['a duplicate member', '{"alg":"ES256","alg":"ES256"}', 'header repeats a member name'],
    ['"kid" not a string', '{"alg":"ES256","kid":7}', '"kid" is not a string'],
    ['not JSON', '{"alg":', 'header is not JSON'],
  ])('a header that fails validation (%s) is never memoized', (_, header, reason) => {
    const token = `${b64u(header)}.${b64u(JSON.stringify(honestPayload()))}.AAAA`;
    for (let i = 0; i < 3; i++) {
      expect(refusal(() => parseToken(token, MAX, {})).reason).toContain(reason);
      expect(headerMemoSize()).toBe(0);
    }
  });

  it('a header segment that is not base64url is refused and never memoized', () => {
    const [h, p, s] = honest().split('.') as [string, string, string];
    for (const bad of [`${h} `, `${h}=`, nonCanonical(h.length % 4 ? h : `${h}A`)]) {
      expect(refusal(() => parseToken(`${bad}.${p}.${s}`, MAX, {})).code).toBe('token_malformed');
    }
    expect(headerMemoSize()).toBe(0);
  });

  it('a JWS header with "enc" is refused every time, from the memo too', () => {
    const token = honest(esHeader({ enc: 'A256GCM' }));
    for (let i = 0; i < 2; i++) {
      expect(refusal(() => parseToken(token, MAX, {})).reason).toBe('JWS header has "enc"');
    }
  });

  it('a JWE never reads or fills the memo: a memoized JWS header is still no JWE header', () => {
    const token = honest();
    jws(token);
    expect(headerMemoSize()).toBe(1);
    const h = token.split('.')[0];
    const fiveParts = `${h}.AAAA.AAAA.AAAA.AAAA`;
    expect(refusal(() => parseToken(fiveParts, MAX, {})).reason).toBe('JWE header has no "enc"');
    const jwe = `${b64u('{"alg":"RSA-OAEP-256","enc":"A256GCM"}')}.AAAA.AAAA.AAAA.AAAA`;
    expect(parseToken(jwe, MAX, {}).kind).toBe('jwe');
    expect(headerMemoSize()).toBe(1);
  });

  it(`holds at most ${HEADER_MEMO_SIZE} headers, the oldest leaving first`, () => {
    const tokens = Array.from({ length: HEADER_MEMO_SIZE + 10 }, (_, i) =>
      honest(esHeader({ kid: `k-${i}` })),
    );
    const headers = tokens.map((t) => jws(t).header);
    expect(headerMemoSize()).toBe(HEADER_MEMO_SIZE);
    // The first ten were evicted: parsed afresh, an equal but new object.
    const firstAgain = jws(tokens[0]!).header;
    expect(firstAgain).not.toBe(headers[0]);
    expect(firstAgain).toEqual(headers[0]);
    // The newest is still there.
    expect(jws(tokens.at(-1)!).header).toBe(headers.at(-1));
    expect(headerMemoSize()).toBe(HEADER_MEMO_SIZE);
  });

  it(`does not keep a header segment longer than ${HEADER_MEMO_MAX_LENGTH} characters`, () => {
    const long = esHeader({ x5u: `https://issuer.test/${'a'.repeat(HEADER_MEMO_MAX_LENGTH)}` });
    const token = honest(long);
    const first = jws(token);
    expect(headerMemoSize()).toBe(0);
    expect(jws(token).header).not.toBe(first.header);
    expect(jws(token).header).toEqual(first.header);
  });
});

describe('one pass over a compact token', () => {
  const [h, p, s] = honest().split('.') as [string, string, string];
  /** The segment with "A"s added until its length is 1 more than a multiple of 4. */
  const oneOver = (segment: string) => segment + 'A'.repeat((5 - (segment.length % 4)) % 4 || 4);
  it.each([
    ['a space in the payload', `${h}.${p.slice(0, 4)} ${p.slice(4)}.${s}`],
    ['"+" in the signature', `${h}.${p}.+${s.slice(1)}`],
    ['"/" in the payload', `${h}.${p.slice(0, 4)}/${p.slice(5)}.${s}`],
    ['padding "=" after the signature', `${h}.${p}.${s}=`],
    ['a non-ASCII letter in the signature', `${h}.${p}.${s.slice(0, -1)}é`],
    // U+0141's low byte is "A": a decoder that truncates code units would read it as valid.
    ['U+0141 in the payload', `${h}.${p.slice(0, 4)}\u0141${p.slice(5)}.${s}`],
    ['a NUL in the signature', `${h}.${p}.${s.slice(0, 8)}\u0000${s.slice(9)}`],
    ['a signature of length % 4 = 1', `${h}.${p}.${oneOver(s)}`],
    ['a payload of length % 4 = 1', `${h}.${oneOver(p)}.${s}`],
  ])('refuses %s as token_malformed', (_, token) => {
    const err = refusal(() => parseToken(token, MAX, {}));
    expect(err.code).toBe('token_malformed');
    expect(err.reason).toMatch(/base64url/);
  });

  it.each([
    [1, 'x'],
    [2, 'a.b'],
    [4, 'a.b.c.d'],
    [6, 'a.b.c.d.e.f'],
  ])('counts %i parts exactly as before', (n, token) => {
    expect(refusal(() => parseToken(token, MAX, {})).reason).toBe(
      `token has ${n} part${n === 1 ? '' : 's'}; a JWS has 3, a JWE 5`,
    );
  });

  it('checks every segment of a JWE for canonical base64url', () => {
    const header = b64u('{"alg":"RSA-OAEP-256","enc":"A256GCM"}');
    const bad = nonCanonical('AAA');
    for (let i = 1; i < 5; i++) {
      const parts = [header, 'AAAA', 'AAAA', 'AAAA', 'AAAA'];
      parts[i] = bad;
      expect(refusal(() => parseToken(parts.join('.'), MAX, {})).reason).toBe(
        'a segment is not canonical base64url',
      );
    }
  });

  it('keeps the exact signing input and the segments as they were sent', () => {
    const token = honest();
    const parsed = jws(token);
    expect(parsed.signingInput).toBe(`${h.length ? token.split('.').slice(0, 2).join('.') : ''}`);
    expect(parsed.signatureSegment).toBe(token.split('.')[2]);
    expect(parsed.payloadSegment).toBe(token.split('.')[1]);
  });
});

describe('duplicate members without a set of names', () => {
  const cases: [string, string][] = [
    ['flat, none', '{"a":1,"b":2}'],
    ['flat, one', '{"a":1,"a":2}'],
    ['escaped spelling of the same name', '{"a":1,"\\u0061":2}'],
    ['escaped spelling, different names', '{"a":1,"\\u0062":2}'],
    ['a string value holding ":', '{"a":"x\\":1,\\"a\\":","b":2}'],
    ['a string value holding ": and a real duplicate', '{"a":"\\":","a":2}'],
    ['a name holding an escaped quote', '{"a\\"":1,"a":2}'],
    ['names differing only by an escaped quote, twice', '{"a\\"":1,"a\\"":2}'],
    ['a run of backslashes before a quote', '{"a\\\\":1,"a":2}'],
    ['a run of backslashes, duplicate', '{"a\\\\":1,"a\\\\":2}'],
    ['nested, none', '{"a":{"a":1,"b":{"a":2}},"b":[{"a":1},{"a":1}]}'],
    ['nested object, one', '{"a":{"b":1,"b":2}}'],
    ['object inside an array, one', '{"a":[1,{"c":1,"c":2}]}'],
    ['same names in sibling objects', '{"x":{"k":1},"y":{"k":1}}'],
    ['same name at two depths', '{"k":{"k":{"k":1}}}'],
    ['"__proto__" twice', '{"__proto__":1,"__proto__":2}'],
    ['"__proto__" once, holding an object', '{"__proto__":{"a":1,"a":2}}'],
    ['empty name twice', '{"":1,"":2}'],
    ['whitespace everywhere', '{ "a" : 1 , "b" :\n[ { "a" : 1 } ] , "a" : 3 }'],
    ['an empty object and array', '{"a":{},"b":[],"c":[[],{}]}'],
    ['a string of braces and brackets', '{"a":"{[{[","b":"]}]}","a":1}'],
    ['unicode names', '{"é":1,"\\u00e9":2}'],
    [
      'deep at the limit',
      `${'{"a":'.repeat(MAX_JSON_DEPTH - 1)}{}${'}'.repeat(MAX_JSON_DEPTH - 1)}`,
    ],
    ['too deep', `${'{"a":'.repeat(MAX_JSON_DEPTH)}{}${'}'.repeat(MAX_JSON_DEPTH)}`],
    ['too deep in arrays', `{"a":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`],
  ];

  it.each(cases)('gives the exact scan’s answer: %s', (_, text) => {
    const exact = jsonStructureProblem(text, { duplicates: true });
    expect(parsedJsonProblem(text, JSON.parse(text))).toBe(exact);
  });

  it('the table above holds both answers (it can fail)', () => {
    const answers = new Set(
      cases.map(([, text]) => jsonStructureProblem(text, { duplicates: true })),
    );
    expect(answers).toEqual(new Set([undefined, 'duplicate member', 'too deep']));
  });

  it('agrees with the exact scan on 3,000 random objects (seeded)', () => {
    let seed = 0x2545f491;
    const random = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const names = ['a', '\\u0061', 'b', 'a\\"', '\\":', '\\\\', '__proto__', '', 'é'];
    const value = (depth: number): string => {
      const kind = depth > 4 ? random(3) : random(6);
      if (kind === 0) return String(random(100));
      if (kind === 1) return `"${names[random(names.length)]}"`;
      if (kind === 2) return 'null';
      if (kind === 3) return `[${Array.from({ length: random(3) }, () => value(depth + 1))}]`;
      return object(depth + 1);
    };
    const object = (depth: number): string =>
      `{${Array.from(
        { length: random(4) },
        () => `"${names[random(names.length)]}"${random(2) ? ' ' : ''}:${value(depth)}`,
      ).join(',')}}`;
    let duplicates = 0;
    for (let i = 0; i < 3000; i++) {
      const text = object(0);
      const exact = jsonStructureProblem(text, { duplicates: true });
      if (exact) duplicates++;
      expect(parsedJsonProblem(text, JSON.parse(text)), text).toBe(exact);
    }
    // Both outcomes were exercised.
    expect(duplicates).toBeGreaterThan(300);
    expect(duplicates).toBeLessThan(2700);
  });

  it('fails closed when the counts differ and the exact scan finds no duplicate', () => {
    // Not reachable from JSON.parse's own output: a value that is not the text's.
    expect(parsedJsonProblem('{"a":1,"b":2}', { a: 1 })).toBe('duplicate member');
    expect(parsedJsonProblem('{"a":{"b":1}}', { a: {} })).toBe('duplicate member');
  });

  it.each([
    ['inside an array of objects', { ...honestPayload() }, ',"roles":[{"r":1,"r":2}]'],
    ['spelled with an escape', { ...honestPayload() }, ',"\\u0073ub":"admin"'],
  ])('a signed payload with a duplicate %s is refused', async (_, payload, extra) => {
    const text = `${JSON.stringify(payload).slice(0, -1)}${extra}}`;
    await expect(verifier().verify(honest(esHeader(), text))).rejects.toMatchObject({
      code: 'token_malformed',
      reason: 'payload repeats a member name',
    });
  });

  it('a signed payload whose string values hold ": and braces is accepted', async () => {
    const payload = { ...honestPayload(), note: 'a":{"sub":"admin"}', other: '\\":' };
    await expect(verifier().verify(honest(esHeader(), payload))).resolves.toMatchObject({
      payload: { note: 'a":{"sub":"admin"}' },
    });
  });
});

describe('reused decode buffers', () => {
  it('a token verified after a longer one reads none of the longer one’s bytes', async () => {
    const v = verifier();
    const long = honest(esHeader(), { ...honestPayload(), pad: 'x'.repeat(3000) });
    const short = honest();
    for (let i = 0; i < 3; i++) {
      await expect(v.verify(long)).resolves.toBeDefined();
      await expect(v.verify(short)).resolves.toBeDefined();
    }
    // A signature changed in one character fails, whatever the buffer held before.
    const [h, p, s] = short.split('.') as [string, string, string];
    const changed = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    await expect(v.verify(long)).resolves.toBeDefined();
    await expect(v.verify(`${h}.${p}.${changed}`)).rejects.toMatchObject({
      code: 'signature_invalid',
    });
  });

  it('a token larger than the buffers is decoded into buffers of its own', async () => {
    const v = verifier({ maxTokenLength: 64 * 1024 });
    const big = honest(esHeader(), { ...honestPayload(), pad: 'y'.repeat(20_000) });
    expect(big.length).toBeGreaterThan(16 * 1024);
    await expect(v.verify(big)).resolves.toMatchObject({ payload: { pad: 'y'.repeat(20_000) } });
    const [h, p, s] = big.split('.') as [string, string, string];
    const forged = `${h}.${b64u(JSON.stringify({ ...honestPayload(), pad: 'z'.repeat(20_000) }))}.${s}`;
    expect(p).not.toBe(forged.split('.')[1]);
    await expect(v.verify(forged)).rejects.toMatchObject({ code: 'signature_invalid' });
  });

  it('createScratch answers the same bytes inside and beyond its capacity', () => {
    const scratch = createScratch(8);
    expect(Buffer.from(scratch.ascii('abc.def'))).toEqual(Buffer.from('abc.def'));
    expect(Buffer.from(scratch.ascii('abcdefghij'))).toEqual(Buffer.from('abcdefghij'));
    expect(Buffer.from(scratch.base64url(b64u('hey'), 2))).toEqual(Buffer.from('hey'));
    expect(Buffer.from(scratch.base64url(b64u('a longer text')))).toEqual(
      Buffer.from('a longer text'),
    );
  });

  it('verifyJwsSignature checks the signature segment against the signing input', () => {
    const key = importVerificationKey(signing.es256.publicJwk);
    const parsed = jws(honest());
    expect(verifyJwsSignature('ES256', key, parsed)).toBe(true);
    const other = jws(honest(esHeader(), { ...honestPayload(), sub: 'b' }));
    expect(
      verifyJwsSignature('ES256', key, { ...parsed, signatureSegment: other.signatureSegment }),
    ).toBe(false);
  });
});

describe('synchronous pipeline', () => {
  it('with keys at hand, verify() has settled by the next microtask', async () => {
    const v = verifier();
    let settled = false;
    void v.verify(honest()).then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(true);
  });

  it('a refusal with keys at hand has settled by the next microtask too', async () => {
    const v = verifier();
    let code: string | undefined;
    void v.verify(honest(esHeader(), { ...honestPayload(), aud: 'other' })).catch((err) => {
      code = (err as VerificationError).code;
    });
    await Promise.resolve();
    expect(code).toBe('audience_mismatch');
  });

  it('never throws synchronously: bad input is a rejected promise', async () => {
    const v = verifier();
    let pending: Promise<unknown> | undefined;
    expect(() => {
      pending = v.verify(42 as unknown as string);
    }).not.toThrow();
    await expect(pending).rejects.toMatchObject({ code: 'token_malformed' });
  });

  const asyncKeys = (): KeySource => {
    const local = verifierKeys();
    return {
      getKeys: (selector) => Promise.resolve().then(() => local.getKeys(selector)),
      isPublished: (key) => local.isPublished(key),
      refresh: async () => {},
    } as KeySource;
  };
  const verifierKeys = (): KeySource => {
    const key = importVerificationKey(signing.es256.publicJwk);
    return {
      getKeys: () => [key],
      isPublished: () => true,
      refresh: async () => {},
    } as unknown as KeySource;
  };

  /** A verifier on `keySource`, and the event types it emits. */
  function observed(keySource: KeySource) {
    const events: string[] = [];
    const v = verifier({
      keys: undefined,
      keySource,
      onEvent: (e: { type: string }) => events.push(e.type),
    } as Partial<VerifierOptions>);
    return { v, events };
  }

  it('a key source that answers later still verifies, and emits token.verified once', async () => {
    const { v, events } = observed(asyncKeys());
    await expect(v.verify(honest())).resolves.toMatchObject({ payload: { iss: ISSUER } });
    expect(events).toEqual(['token.verified']);
  });

  it('a bound token through a key source that answers later is refused, with its event', async () => {
    const { v, events } = observed(asyncKeys());
    const bound = honest(esHeader(), { ...honestPayload(), cnf: { jkt: 'abc' } });
    await expect(v.verify(bound)).rejects.toMatchObject({ code: 'token_binding_mismatch' });
    expect(events).toEqual(['token.rejected']);
  });

  it('a key source that fails later rejects with a VerificationError and its event', async () => {
    const { v, events } = observed({
      getKeys: () => Promise.reject(new Error('boom')),
      isPublished: () => true,
      refresh: async () => {},
    } as unknown as KeySource);
    const err = await v.verify(honest()).catch((e: unknown) => e);
    expect(isVerificationError(err)).toBe(true);
    expect(events).toEqual(['token.rejected']);
  });

  it('an issuer resolver that answers later still verifies', async () => {
    const v = createVerifier({
      audience: AUDIENCE,
      now: createClock().now,
      tokenCache: false,
      issuers: async (iss: string) =>
        iss === ISSUER ? { issuer: ISSUER, keys: issuerJwks } : undefined,
    } as VerifierOptions);
    await expect(v.verify(honest())).resolves.toMatchObject({ payload: { iss: ISSUER } });
  });
});
