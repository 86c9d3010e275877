import { describe, expect, it } from 'vitest';
import { VerificationError, claimsGuard, parseScopes, runGuard, scopeGuard } from '../src/index.js';
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
    { name: 'scope as an array of strings', payload: { scope: ['a', 'b'] }, scopes: ['a', 'b'] },
    {
      name: 'scope array and scp string',
      payload: { scope: ['a'], scp: 'b c' },
      scopes: ['a', 'b', 'c'],
    },
    { name: 'inherited properties ignored', payload: Object.create({ scope: 'x' }), scopes: [] },
  ])('$name', ({ payload, scopes }) => {
    expect([...parseScopes(payload as TokenPayload)].sort()).toEqual(scopes);
  });

  // Refused only where a guard reads them: checkIdentity no longer judges `scope`'s shape.
  it.each([
    { name: 'an array holding a non-string', payload: { scp: ['a', 1, null] } },
    { name: 'a number', payload: { scope: 7 } },
    { name: 'null', payload: { scope: null } },
    { name: 'an object', payload: { scope: { a: true } } },
    { name: 'a nested array', payload: { scope: [['a']] } },
  ])('refuses a scope claim that is $name (claim_invalid, 401)', ({ payload }) => {
    expect(() => parseScopes(payload as TokenPayload)).toThrow(
      expect.objectContaining({ code: 'claim_invalid', status: 401 }),
    );
  });

  it('does not read a malformed claim it was not asked for', () => {
    expect([...parseScopes({ scope: 'a', permissions: 7 })]).toEqual(['a']);
    expect(() => parseScopes({ permissions: 7 }, ['permissions'])).toThrow(VerificationError);
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

describe('claimsGuard with an async predicate', () => {
  it('awaits the predicate once and passes on true', async () => {
    let calls = 0;
    const check = claimsGuard(async (p) => {
      calls++;
      await new Promise((resolve) => setImmediate(resolve));
      return p.tenant === 't1';
    });
    await expect(check(auth({ tenant: 't1' }))).resolves.toBeUndefined();
    expect(calls).toBe(1);
  });

  it('refuses false, a truthy non-boolean, and a resolved object (403)', async () => {
    for (const answer of [false, 'yes', {}]) {
      const check = claimsGuard(async () => answer as boolean, 'lookup');
      await expect(check(auth({}))).rejects.toMatchObject({
        code: 'scope_insufficient',
        status: 403,
        reason: 'claims check failed: lookup',
      });
    }
  });

  it('turns a rejected or throwing predicate into a 403 with the error as cause, never a 500', async () => {
    const failure = new Error('directory unavailable');
    const rejecting = claimsGuard(() => Promise.reject(failure), 'directory lookup');
    await expect(rejecting(auth({}))).rejects.toMatchObject({
      code: 'scope_insufficient',
      reason: 'claims check threw: directory lookup',
      cause: failure,
    });
    const throwing = claimsGuard((p) => (p.roles as string[]).includes('admin'));
    expect(() => throwing(auth({}))).toThrow(
      expect.objectContaining({ code: 'scope_insufficient', reason: 'claims check threw' }),
    );
  });

  it('keeps a VerificationError the predicate raises (claim_missing stays 401)', async () => {
    const check = claimsGuard(async () => {
      throw new VerificationError('claim_missing', { reason: '"tenant" is missing' });
    });
    await expect(check(auth({}))).rejects.toMatchObject({ code: 'claim_missing', status: 401 });
  });
});

describe('runGuard', () => {
  it('stays synchronous for a sync guard: no promise, so no tick (DESIGN: hot path)', () => {
    expect(
      runGuard(
        claimsGuard(() => true),
        auth({}),
      ),
    ).toBeUndefined();
    expect(runGuard(scopeGuard('all', ['a']), auth({ scope: 'a' }))).toBeUndefined();
    const refused = runGuard(
      claimsGuard(() => false),
      auth({ sub: 's' }),
    );
    expect(refused).toBeInstanceOf(VerificationError);
  });

  it('resolves to the refusal of an async guard, with the token hints for the log', async () => {
    const pending = runGuard(
      claimsGuard(async () => false),
      { payload: { iss: 'https://i/' }, header: { alg: 'ES256', kid: 'k1' }, token: 't' },
    );
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).resolves.toMatchObject({
      code: 'scope_insufficient',
      details: { kid: 'k1', alg: 'ES256', iss: 'https://i/' },
    });
    await expect(
      runGuard(
        claimsGuard(async () => true),
        auth({}),
      ),
    ).resolves.toBeUndefined();
  });
});
