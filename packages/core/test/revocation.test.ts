// The `revoked` hook (token/revocation.ts): asked after verification and on every cache hit.
import { describe, expect, it } from 'vitest';
import { createVerifier, isPromiseLike } from '../src/index.js';
import type { RevokedHook, TokenPayload, VerifierOptions } from '../src/index.js';
import { AUDIENCE, ISSUER, NOW, generateTestKeys, sign, validClaims } from './helpers/keys.js';

const keys = await generateTestKeys();
const OTHER_ISSUER = 'https://other.test/';

function verifier(revoked: RevokedHook | undefined, extra: Partial<VerifierOptions> = {}) {
  return createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: [keys.rs256.publicJwk],
    now: () => NOW,
    ...(revoked && { revoked }),
    ...extra,
  });
}

/** A hook over a mutable set of revoked `jti`s, counting its calls. */
function denySet() {
  const jtis = new Set<string>();
  const hook = Object.assign(
    (payload: TokenPayload) => {
      hook.calls++;
      return typeof payload.jti === 'string' && jtis.has(payload.jti);
    },
    { calls: 0 },
  );
  return { jtis, hook };
}

const token = (jti: string) => sign(keys.rs256, validClaims({ jti }));

describe('revoked hook', () => {
  it('refuses a revoked token after verification with token_revoked', async () => {
    const { jtis, hook } = denySet();
    jtis.add('j-1');
    await expect(verifier(hook).verify(await token('j-1'))).rejects.toMatchObject({
      code: 'token_revoked',
      status: 401,
      reason: 'the revoked hook answered true',
      details: { kid: 'rs-1', alg: 'RS256', iss: ISSUER },
    });
    await expect(verifier(hook).verify(await token('j-2'))).resolves.toHaveProperty(
      'payload.jti',
      'j-2',
    );
  });

  it('refuses a token revoked after it was cached, on the hit, synchronously', async () => {
    const { jtis, hook } = denySet();
    const v = verifier(hook);
    const t = await token('j-cached');
    const first = await v.verify(t);
    expect(v.cached(t)).toBe(first); // a plain value: no promise hop for a synchronous hook
    jtis.add('j-cached');
    expect(() => v.cached(t)).toThrow(expect.objectContaining({ code: 'token_revoked' }));
    await expect(v.verify(t)).rejects.toMatchObject({ code: 'token_revoked' });
    // Still cached: asking again is a lookup, not a new signature check.
    jtis.delete('j-cached');
    expect(v.cached(t)).toBe(first);
  });

  it('receives the verified payload and header, the inner JWS header for the signature', async () => {
    const seen: unknown[] = [];
    const v = verifier((payload, header) => {
      seen.push([payload.jti, header.alg, header.kid]);
      return false;
    });
    await v.verify(await token('j-args'));
    expect(seen).toEqual([['j-args', 'RS256', 'rs-1']]);
  });

  it('is never asked about a token that fails verification', async () => {
    const { hook } = denySet();
    const v = verifier(hook);
    const expired = await sign(keys.rs256, validClaims({ exp: NOW - 3600 }));
    await expect(v.verify(expired)).rejects.toMatchObject({ code: 'token_expired' });
    const forged = `${(await token('j-f')).slice(0, -4)}AAAA`;
    await expect(v.verify(forged)).rejects.toMatchObject({ code: 'signature_invalid' });
    expect(hook.calls).toBe(0);
  });

  it('an async hook answers on the hit with a promise', async () => {
    const revokedJtis = new Set<string>();
    const v = verifier(async (payload) => revokedJtis.has(payload.jti as string));
    const t = await token('j-async');
    const first = await v.verify(t);
    const hit = v.cached(t);
    expect(isPromiseLike(hit)).toBe(true);
    expect(await hit).toBe(first);
    revokedJtis.add('j-async');
    await expect(v.cached(t)).rejects.toMatchObject({ code: 'token_revoked' });
    await expect(v.verify(t)).rejects.toMatchObject({ code: 'token_revoked' });
  });

  const failing: { name: string; hook: RevokedHook; reason: string }[] = [
    {
      name: 'throws',
      hook: () => {
        throw new Error('db down: connection string postgres://secret');
      },
      reason: 'the revoked hook threw',
    },
    {
      name: 'rejects',
      hook: () => Promise.reject(new Error('timeout')),
      reason: 'the revoked hook threw',
    },
    {
      name: 'answers undefined',
      hook: (() => undefined) as unknown as RevokedHook,
      reason: 'the revoked hook answered neither true nor false',
    },
    {
      name: 'answers a truthy non-boolean',
      hook: (() => Promise.resolve('yes')) as unknown as RevokedHook,
      reason: 'the revoked hook answered neither true nor false',
    },
  ];
  it.each(failing)('a hook that $name fails closed with 503 revocation_unavailable', async (c) => {
    const v = verifier(c.hook);
    const err = await v.verify(await token('j-x')).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'revocation_unavailable',
      status: 503,
      reason: c.reason,
      headers: { 'Retry-After': '30' },
      details: { kid: 'rs-1', iss: ISSUER },
    });
    // The client sees the fixed description only, never the hook's error.
    expect((err as Error).message).toBe('revocation check is temporarily unavailable');
  });

  it('passes a VerificationError the hook throws through unchanged', async () => {
    const { VerificationError } = await import('../src/index.js');
    const unsure = new VerificationError('revocation_unavailable', { reason: 'list not current' });
    const v = verifier(() => {
      throw unsure;
    });
    await expect(v.verify(await token('j-y'))).rejects.toBe(unsure);
  });

  it('applies per issuer: an issuers[] entry overrides the top-level hook', async () => {
    const issuerKey = { ...keys.es256.publicJwk };
    const v = createVerifier({
      audience: AUDIENCE,
      now: () => NOW,
      revoked: () => true,
      issuers: [
        { issuer: ISSUER, keys: [keys.rs256.publicJwk] },
        { issuer: OTHER_ISSUER, keys: [issuerKey], revoked: () => false },
      ],
    });
    await expect(v.verify(await token('j-top'))).rejects.toMatchObject({ code: 'token_revoked' });
    const other = await sign(keys.es256, validClaims({ iss: OTHER_ISSUER, jti: 'j-other' }));
    await expect(v.verify(other)).resolves.toHaveProperty('payload.jti', 'j-other');
  });

  it.each([42, 'deny', { has: () => true }])(
    '"revoked: %j" is a TypeError at construction',
    (v) => {
      expect(() => verifier(v as unknown as RevokedHook)).toThrow(
        new TypeError('"revoked" must be a function (payload, header) => boolean'),
      );
    },
  );

  describe('a hook with a version', () => {
    /** A deny set whose hook carries a `version` the test moves. */
    function versioned(version: number) {
      const { jtis, hook } = denySet();
      return { jtis, hook: Object.assign(hook, { version }) };
    }

    it('a cache hit reuses the last "not revoked" while the version is unchanged', async () => {
      const { jtis, hook } = versioned(1);
      const v = verifier(hook);
      const t = await token('j-v');
      await v.verify(t);
      expect(hook.calls).toBe(1);
      for (let i = 0; i < 5; i++) expect(v.cached(t)).toBeDefined();
      expect(hook.calls).toBe(1);
      jtis.add('j-v');
      hook.version = 2; // the list changed: the next hit asks again
      expect(() => v.cached(t)).toThrow(expect.objectContaining({ code: 'token_revoked' }));
      expect(() => v.cached(t)).toThrow(expect.objectContaining({ code: 'token_revoked' }));
      expect(hook.calls).toBe(3); // a "revoked" answer is never remembered
    });

    it('NaN asks on every hit', async () => {
      const { hook } = versioned(NaN);
      const v = verifier(hook);
      const t = await token('j-nan');
      await v.verify(t);
      v.cached(t);
      v.cached(t);
      expect(hook.calls).toBe(3);
    });

    it('a hook that threw is asked again, whatever its version', async () => {
      let fail = true;
      const hook = Object.assign(
        () => {
          if (fail) throw new Error('down');
          return false;
        },
        { version: 7 },
      );
      const v = verifier(hook, { tokenCache: { max: 10 } });
      const t = await token('j-throw');
      await expect(v.verify(t)).rejects.toMatchObject({ code: 'revocation_unavailable' });
      expect(() => v.cached(t)).toThrow(
        expect.objectContaining({ code: 'revocation_unavailable' }),
      );
      fail = false;
      expect(v.cached(t)).toBeDefined();
    });

    it('an async answer is never remembered', async () => {
      let calls = 0;
      const hook = Object.assign(
        async () => {
          calls++;
          return false;
        },
        { version: 1 },
      );
      const v = verifier(hook);
      const t = await token('j-async-v');
      await v.verify(t);
      await v.cached(t);
      await v.cached(t);
      expect(calls).toBe(3);
    });
  });

  it('works without a token cache: every request asks the hook', async () => {
    const { jtis, hook } = denySet();
    const v = verifier(hook, { tokenCache: false });
    const t = await token('j-nocache');
    await v.verify(t);
    jtis.add('j-nocache');
    await expect(v.verify(t)).rejects.toMatchObject({ code: 'token_revoked' });
    expect(hook.calls).toBe(2);
  });
});
