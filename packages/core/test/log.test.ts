import { describe, expect, it } from 'vitest';
import { createVerifier, scopeGuard, toLogLevels, VERIFICATION_ERROR_CODES } from '../src/index.js';
import type { Logger, VerifiedToken } from '../src/index.js';
import { logAt } from '../src/telemetry/log.js';
import { createSigningKey } from '@tokengate/test-fixtures/keys';

const signingKey = await createSigningKey('ES256');

const withScopes = (scope: string): VerifiedToken => ({
  payload: { sub: 'alice', scope },
  header: { alg: 'ES256' },
  token: 'unused',
});

describe('log reasons read as sentences', () => {
  const verifier = createVerifier({
    issuer: 'https://issuer.test/',
    audience: 'api://orders',
    keys: [signingKey.publicJwk],
  });
  it.each([
    ['abc', 'token has 1 part; a JWS has 3, a JWE 5'],
    ['a.b', 'token has 2 parts; a JWS has 3, a JWE 5'],
    ['a.b.c.d', 'token has 4 parts; a JWS has 3, a JWE 5'],
    ['a.b.c.d.e.f', 'token has 6 parts; a JWS has 3, a JWE 5'],
  ])('a malformed token %j: %s', async (token, reason) => {
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'token_malformed', reason });
  });

  it.each([
    ['all', ['orders:read', 'orders:write'], 'orders:read', 'token lacks the scope orders:write'],
    ['all', ['a', 'b', 'c'], 'b', 'token lacks the scopes a, c'],
    [
      'any',
      ['orders:write', 'orders:admin'],
      'orders:read',
      'token has none of the scopes orders:write, orders:admin',
    ],
  ] as const)(
    'scope_insufficient (%s of %j, granted %j) names the missing scopes',
    (mode, required, granted, reason) => {
      expect(() => scopeGuard(mode, required)(withScopes(granted))).toThrow(
        expect.objectContaining({ code: 'scope_insufficient', reason }),
      );
    },
  );
});

describe('logLevels', () => {
  it('defaults token_missing to info and every other code to warn', () => {
    const levels = toLogLevels(undefined);
    expect(levels.token_missing).toBe('info');
    for (const code of VERIFICATION_ERROR_CODES.filter((c) => c !== 'token_missing')) {
      expect(levels[code]).toBe('warn');
    }
  });

  it('overrides per code and keeps the other defaults', () => {
    const levels = toLogLevels({ token_missing: 'silent', jwks_unavailable: 'error' });
    expect([levels.token_missing, levels.jwks_unavailable, levels.token_expired]).toEqual([
      'silent',
      'error',
      'warn',
    ]);
  });

  it.each([
    ['an unknown code', { token_mising: 'info' }, /unknown error code: "token_mising"/],
    ['an unknown level', { token_missing: 'debug' }, /"logLevels.token_missing" must be/],
    ['a non-object', 'info', /"logLevels" must be an object/],
    ['an array', ['info'], /"logLevels" must be an object/],
  ])('throws a TypeError at construction for %s', (_name, value, message) => {
    expect(() => toLogLevels(value as never)).toThrow(TypeError);
    expect(() => toLogLevels(value as never)).toThrow(message);
  });

  it('writes at the level, falls back to warn for a logger without info, and skips silent', () => {
    const calls: string[] = [];
    const full: Logger = {
      info: () => void calls.push('info'),
      warn: () => void calls.push('warn'),
      error: () => void calls.push('error'),
    };
    const noInfo: Logger = { warn: full.warn, error: full.error };
    logAt(full, 'info', {}, 'm');
    logAt(full, 'error', {}, 'm');
    logAt(noInfo, 'info', {}, 'm');
    logAt(full, 'silent', {}, 'm');
    expect(calls).toEqual(['info', 'error', 'warn']);
  });
});
