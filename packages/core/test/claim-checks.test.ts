import { describe, expect, it } from 'vitest';
import { claimCheck, claimEquals, claimIncludes, claimsGuard } from '../src/index.js';
import type { ClaimCheck, TokenPayload } from '../src/index.js';

const auth = (payload: TokenPayload) => ({ payload, header: { alg: 'RS256' }, token: 't' });

describe('claim checks through requireClaims', () => {
  const cases: { name: string; check: ClaimCheck; payload: TokenPayload; code?: string }[] = [
    { name: 'equals: same string', check: claimEquals('tenant', 't1'), payload: { tenant: 't1' } },
    {
      name: 'equals: other string',
      check: claimEquals('tenant', 't1'),
      payload: { tenant: 't2' },
      code: 'scope_insufficient',
    },
    {
      name: 'equals: number is not its string',
      check: claimEquals('level', 3),
      payload: { level: '3' },
      code: 'scope_insufficient',
    },
    {
      name: 'equals: absent claim',
      check: claimEquals('tenant', 't1'),
      payload: {},
      code: 'claim_missing',
    },
    {
      name: 'equals: inherited claim does not count',
      check: claimEquals('constructor', 'x'),
      payload: {},
      code: 'claim_missing',
    },
    {
      name: 'includes: array has all',
      check: claimIncludes('roles', 'a', 'b'),
      payload: { roles: ['b', 'a', 'c'] },
    },
    {
      name: 'includes: array lacks one',
      check: claimIncludes('roles', 'a', 'd'),
      payload: { roles: ['a'] },
      code: 'scope_insufficient',
    },
    {
      name: 'includes: space-delimited string',
      check: claimIncludes('scope', 'x:y'),
      payload: { scope: 'a x:y' },
    },
    {
      name: 'includes: substring is not a member',
      check: claimIncludes('scope', 'x'),
      payload: { scope: 'x:y' },
      code: 'scope_insufficient',
    },
    {
      name: 'includes: a number claim',
      check: claimIncludes('roles', 'a'),
      payload: { roles: 7 },
      code: 'scope_insufficient',
    },
    {
      name: 'equals: null matches a null claim',
      check: claimEquals('manager', null),
      payload: { manager: null },
    },
    {
      name: 'equals: null does not match an absent claim',
      check: claimEquals('manager', null),
      payload: {},
      code: 'claim_missing',
    },
    {
      name: 'equals: null does not match a string',
      check: claimEquals('manager', null),
      payload: { manager: 'null' },
      code: 'scope_insufficient',
    },
    { name: 'equals: false', check: claimEquals('mfa', false), payload: { mfa: false } },
    { name: 'equals: a number', check: claimEquals('level', 3), payload: { level: 3 } },
    {
      name: 'includes: numbers and booleans in an array',
      check: claimIncludes('flags', 1, true),
      payload: { flags: [true, 0, 1] },
    },
    {
      name: 'includes: a number is not its string',
      check: claimIncludes('flags', 1),
      payload: { flags: ['1'] },
      code: 'scope_insufficient',
    },
    {
      name: 'includes: null in an array',
      check: claimIncludes('slots', null),
      payload: { slots: ['a', null] },
    },
    {
      name: 'includes: a number never matches a space-delimited string',
      check: claimIncludes('scope', 1),
      payload: { scope: '1 2' },
      code: 'scope_insufficient',
    },
    {
      name: 'check: predicate true',
      check: claimCheck((p) => p.email_verified === true, 'verified email'),
      payload: { email_verified: true },
    },
    {
      name: 'check: truthy non-boolean is not a pass',
      check: claimCheck((p) => p.x as boolean, 'x'),
      payload: { x: 'yes' },
      code: 'scope_insufficient',
    },
  ];
  it.each(cases)('$name', ({ check, payload, code }) => {
    const guard = claimsGuard(check);
    if (code === undefined) expect(() => guard(auth(payload))).not.toThrow();
    else expect(() => guard(auth(payload))).toThrow(expect.objectContaining({ code }));
  });

  it('keeps the fixed description for the log, not claim values', () => {
    const guard = claimsGuard(claimEquals('tenant', 'secret-tenant'));
    try {
      guard(auth({ tenant: 'other' }));
      expect.unreachable();
    } catch (err) {
      expect((err as { reason: string }).reason).toBe(
        'claims check failed: "tenant" equals the expected value',
      );
    }
  });

  it.each([
    ['claimEquals without a name', () => claimEquals('', 'x')],
    ['claimEquals with an object', () => claimEquals('a', {} as never)],
    ['claimIncludes without values', () => claimIncludes('a')],
    ['claimEquals with NaN', () => claimEquals('a', NaN)],
    ['claimEquals with undefined', () => claimEquals('a', undefined as never)],
    ['claimIncludes with an array value', () => claimIncludes('a', ['x'] as never)],
    ['claimIncludes with Infinity', () => claimIncludes('a', Infinity)],
    ['claimCheck without description', () => claimCheck(() => true, '')],
  ])('%s throws at construction', (_name, build) => {
    expect(build).toThrow(TypeError);
  });
});

describe('claimCheck with an async predicate', () => {
  it('resolves to whether the predicate resolved to true', async () => {
    const check = claimCheck(async (p) => p.tenant === 't1', 'tenant lookup');
    await expect(check({ tenant: 't1' })).resolves.toBe(true);
    await expect(check({ tenant: 't2' })).resolves.toBe(false);
    const guard = claimsGuard(check);
    await expect(guard(auth({ tenant: 't1' }))).resolves.toBeUndefined();
    await expect(guard(auth({ tenant: 't2' }))).rejects.toMatchObject({
      code: 'scope_insufficient',
      reason: 'claims check failed: tenant lookup',
    });
  });
});
