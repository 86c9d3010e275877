// Issue 12: "maybe a promise" is detected in one place (isPromiseLike), so a custom key source
// answering with a thenable that is not a native Promise verifies like any other.
import { describe, expect, it } from 'vitest';
import {
  VerificationError,
  createVerifier,
  importVerificationKey,
  isPromiseLike,
} from '../src/index.js';
import type { KeySource, VerificationKey } from '../src/index.js';
import { AUDIENCE, ISSUER, NOW, generateTestKeys, sign, validClaims } from './helpers/keys.js';

const keys = await generateTestKeys();
const key = importVerificationKey(keys.es256.publicJwk);

/** A Promises/A+ thenable that is not a native Promise (as another promise library returns). */
function thenable<T>(settle: { value: T } | { error: unknown }): PromiseLike<T> {
  return {
    then(onFulfilled, onRejected) {
      return Promise.resolve().then(() =>
        'value' in settle
          ? onFulfilled?.(settle.value)
          : onRejected
            ? onRejected(settle.error)
            : Promise.reject(settle.error),
      ) as never;
    },
  };
}

function verifierWith(getKeys: KeySource['getKeys']) {
  return createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    now: () => NOW,
    keySource: { getKeys, isPublished: () => true, refresh: async () => {} },
  });
}

describe('a custom key source may answer with any thenable', () => {
  it.each([
    ['an array', () => [key]],
    ['a native Promise', () => Promise.resolve([key])],
    ['a non-native thenable', () => thenable<readonly VerificationKey[]>({ value: [key] })],
  ])('getKeys returning %s verifies', async (_name, getKeys) => {
    const token = await sign(keys.es256, validClaims());
    const verified = await verifierWith(getKeys).verify(token);
    expect(verified.payload.sub).toBe('user-1');
  });

  it('a rejecting thenable keeps its error code (not token_malformed)', async () => {
    const token = await sign(keys.es256, validClaims());
    const failing = () =>
      thenable<readonly VerificationKey[]>({ error: new VerificationError('jwks_unavailable') });
    await expect(verifierWith(failing).verify(token)).rejects.toMatchObject({
      code: 'jwks_unavailable',
    });
  });
});

describe('isPromiseLike', () => {
  it.each([
    [Promise.resolve(1), true],
    [thenable({ value: 1 }), true],
    [Object.assign(() => {}, { then: () => {} }), true],
    [[key], false],
    [{ then: 'not a function' }, false],
    [null, false],
    [undefined, false],
    ['then', false],
  ])('%o → %s', (value, expected) => {
    expect(isPromiseLike(value as unknown)).toBe(expected);
  });
});
