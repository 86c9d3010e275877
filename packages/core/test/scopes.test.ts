import { describe, expect, it } from 'vitest';
import { claimsGuard, parseScopes, scopeGuard } from '../src/index.js';
import type { TokenPayload, VerifiedToken } from '../src/index.js';

const auth = (payload: TokenPayload): VerifiedToken => ({
  payload,
  header: { alg: 'RS256' },
  token: 't',
});

describe('parseScopes', () => {
  it.each([
    { name: 'space-delimited scope', payload: { scope: 'a b  c' }, scopes: ['a', 'b', 'c'] },
    { name: 'scp array', payload: { scp: ['a', 'b'] }, scopes: ['a', 'b'] },
    { name: 'both', payload: { scope: 'a', scp: ['b'] }, scopes: ['a', 'b'] },
    { name: 'non-strings ignored', payload: { scp: ['a', 1, null] }, scopes: ['a'] },
    { name: 'inherited properties ignored', payload: Object.create({ scope: 'x' }), scopes: [] },
  ])('$name', ({ payload, scopes }) => {
    expect([...parseScopes(payload as TokenPayload)].sort()).toEqual(scopes);
  });

  it('reads a permissions claim when named', () => {
    expect([...parseScopes({ permissions: ['p:1'] }, ['permissions'])]).toEqual(['p:1']);
  });
});

describe('scopeGuard', () => {
  const cases = [
    { name: 'all-of satisfied', mode: 'all', need: ['a', 'b'], scope: 'a b c', code: undefined },
    {
      name: 'all-of missing one',
      mode: 'all',
      need: ['a', 'd'],
      scope: 'a b',
      code: 'scope_insufficient',
    },
    { name: 'any-of satisfied', mode: 'any', need: ['x', 'b'], scope: 'a b', code: undefined },
    {
      name: 'any-of none',
      mode: 'any',
      need: ['x', 'y'],
      scope: 'a b',
      code: 'scope_insufficient',
    },
    {
      name: 'scope prefix is not a match',
      mode: 'all',
      need: ['orders'],
      scope: 'orders:read',
      code: 'scope_insufficient',
    },
  ] as const;
  it.each(cases)('$name', ({ mode, need, scope, code }) => {
    const check = scopeGuard(mode, need);
    if (code === undefined) expect(() => check(auth({ scope }))).not.toThrow();
    else
      expect(() => check(auth({ scope }))).toThrow(
        expect.objectContaining({ code, status: 403, scope: need }),
      );
  });

  it('answers token_missing (401) without auth', () => {
    expect(() => scopeGuard('all', ['a'])(undefined)).toThrow(
      expect.objectContaining({ code: 'token_missing', status: 401 }),
    );
  });

  it.each([[[]], [['a b']], [['a"b']]])(
    'refuses an invalid scope list %j at construction',
    (list) => {
      expect(() => scopeGuard('all', list)).toThrow(TypeError);
    },
  );
});

describe('claimsGuard', () => {
  it('passes and fails by the predicate', () => {
    const check = claimsGuard((p) => p.tenant === 't1');
    expect(() => check(auth({ tenant: 't1' }))).not.toThrow();
    expect(() => check(auth({ tenant: 't2' }))).toThrow(
      expect.objectContaining({ code: 'scope_insufficient' }),
    );
    expect(() => check(null)).toThrow(expect.objectContaining({ code: 'token_missing' }));
  });
});
