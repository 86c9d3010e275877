// The token cache is keyed by a token's tail (cheap to hash on every request) but answers only
// for the exact token it stored; and the gate's cache-first read of `Authorization: Bearer`.
import { describe, expect, it } from 'vitest';
import { bearerCandidate } from '../src/http/credentials.js';
import { TOKEN_KEY_LENGTH, createTokenCache, tokenKey } from '../src/token/cache.js';
import { createVerifier } from '../src/index.js';
import { issuerJwks } from '@tokengate/test-fixtures/keys';
import { AUDIENCE, ISSUER, NOW, claims, sign } from '@tokengate/test-fixtures/tokens';

const tail = 'S'.repeat(TOKEN_KEY_LENGTH);
const token = `header.payload-one.${tail}`;
/** A different token with the same tail: same LRU key. */
const lookalike = `header.payload-two.${tail}`;

const newCache = () => createTokenCache<{ n: number }>({ max: 10, maxBytes: 1e6 });

describe('token cache keyed by the tail', () => {
  it('keys a token by its last characters, a short one by itself', () => {
    expect(tokenKey(token)).toBe(tail);
    expect(tokenKey('short')).toBe('short');
  });

  it('a token sharing the tail of a cached one is a miss, and the cached one stays', () => {
    const cache = newCache();
    cache.set(token, { n: 1 });
    expect(cache.get(lookalike)).toBeUndefined();
    expect(cache.get(token)).toEqual({ n: 1 });
  });

  it('deleting a lookalike leaves the cached token; deleting the token removes it', () => {
    const cache = newCache();
    cache.set(token, { n: 1 });
    cache.delete(lookalike);
    expect(cache.get(token)).toEqual({ n: 1 });
    cache.delete(token);
    expect(cache.get(token)).toBeUndefined();
  });

  it('a token sent as a new string (as every request sends it) still hits', () => {
    const cache = newCache();
    cache.set(token, { n: 1 });
    expect(cache.get(Buffer.from(token).toString('latin1'))).toEqual({ n: 1 });
  });

  it('through the verifier: a forgery carrying a cached token’s signature is refused', async () => {
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: issuerJwks,
      now: () => NOW,
    });
    const valid = await sign(claims());
    await verifier.verify(valid);
    const [header, , signature] = valid.split('.');
    const payload = Buffer.from(JSON.stringify(claims({ sub: 'admin' }))).toString('base64url');
    const forged = `${header}.${payload}.${signature}`;
    expect(verifier.cached(forged)).toBeUndefined();
    await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 'signature_invalid' });
    expect(await verifier.cached(valid)).toMatchObject({ token: valid });
  });
});

describe('bearerCandidate: the token of "Bearer <token>" read without the regex', () => {
  const read = (value: unknown, rawHeaders?: string[]) =>
    bearerCandidate({ headers: { authorization: value as string }, rawHeaders });
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    // Not trusted as extracted: only a token the cache holds is used, anything else is parsed.
    ['Bearer  abc ', ' abc '],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Bearerabc', undefined],
    ['Bearer\tabc', undefined],
    ['Bearer\u0000abc', undefined],
    ['Basic abc', undefined],
    ['DPoP abc', undefined],
    ['@EARER abc', undefined],
    [undefined, undefined],
    [['Bearer a', 'Bearer b'], undefined],
  ])('%j → %j', (value, want) => {
    expect(read(value)).toBe(want);
  });

  it('two Authorization headers in the raw list: no candidate (the full parse answers 400)', () => {
    const raw = ['Host', 'x', 'authorization', 'Bearer a', 'AUTHORIZATION', 'Bearer a'];
    expect(read('Bearer a', raw)).toBeUndefined();
    expect(read('Bearer a', ['Host', 'x', 'Authorization', 'Bearer a'])).toBe('a');
  });
});
