// Issue 19: recovery that tracks the outage, not the failure count. Backoff capped near the
// cooldown with jitter, unknown kids refreshing during the backoff, new keys seen within
// seconds, a bounded wait for keys, and telemetry on changes of state.
import { describe, expect, it } from 'vitest';
import { VerificationError } from '../../src/errors.js';
import { createRemoteJwks, kidRefreshLimiter } from '../../src/keys/remote-jwks.js';
import { backoffDelay } from '../../src/keys/http/cached-document.js';
import type { TokengateEvent } from '../../src/telemetry/events.js';
import { createSigningKey, publicJwks, signing } from '@tokengate/test-fixtures/keys';
import { JWKS_PATH, harness, heldResponse } from './harness.js';
import type { Harness } from './harness.js';

const { es256 } = signing;
const es = { kid: es256.kid, alg: 'ES256' };
const next = await createSigningKey('ES256', 'es256-next');
const nextSelector = { kid: next.kid, alg: 'ES256' };

/**
 * With the server down and the set stale: `attempts` failed revalidations, each started by
 * `requests` verifications and each followed by its whole backoff. Returns the waits logged.
 */
async function failRepeatedly(h: Harness, attempts: number, requests = 1): Promise<number[]> {
  const waits: number[] = [];
  const before = h.events.seen.length;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    for (let i = 0; i < requests; i++) await h.jwks.getKey(es);
    await h.events.settle(before + attempt);
    const wait = h.logger.at('error').at(-1)!.obj.retryInSeconds as number;
    waits.push(wait);
    h.clock.advance(wait);
  }
  return waits;
}

describe('backoff', () => {
  it.each([
    // failures, cap, random, seconds
    [1, 30, 0, 1],
    [2, 30, 0, 2],
    [5, 30, 0, 16],
    [6, 30, 0, 30],
    [40, 30, 0, 30],
    [1, 30, 0.5, 0.75],
    [6, 30, 0.5, 22.5],
    [6, 30, 0.999_999, 15.000_015],
    [3, 1, 0, 1],
    [3, 30, Number.NaN, 4],
    [3, 30, 7, 2],
  ])('after %i failures (cap %i s, random %d) waits %d s', (failures, cap, random, seconds) => {
    expect(backoffDelay(failures, cap, () => random)).toBeCloseTo(seconds, 9);
  });

  it('is capped at the cooldown, jittered by the injected randomness, and ended by a success', async () => {
    let r = 0.5;
    const h = await harness(publicJwks(es256), { cooldown: 20, random: () => r });
    await h.jwks.getKey(es);
    h.server.down();
    h.clock.advance(300);
    const waits = await failRepeatedly(h, 8);
    expect(waits).toEqual([0.75, 1.5, 3, 6, 12, 15, 15, 15]);
    r = 0;
    h.server.up();
    await h.jwks.getKey(es);
    await h.events.settle(10);
    expect(h.events.seen.at(-1)).toBe('fetch 304');
    expect(h.jwks.status()).toMatchObject({ consecutiveFailures: 0, retryAt: undefined });
  });
});

describe('unknown kid during the backoff', () => {
  it('refreshes at once, accepts the new key and ends the backoff', async () => {
    const h = await harness(publicJwks(es256));
    await h.jwks.getKey(es);
    h.server.down();
    h.clock.advance(300);
    await failRepeatedly(h, 6);
    await h.jwks.getKey(es);
    await h.events.settle(8);
    expect(h.jwks.status()).toMatchObject({ consecutiveFailures: 7 });
    expect(h.jwks.status().retryAt).toBeGreaterThan(h.clock.now() + 29);
    // The key server is back with a new key, while the receiver still backs off.
    h.server.up();
    h.server.setJwks(publicJwks(es256, next));
    const before = h.server.count(JWKS_PATH);
    expect((await h.jwks.getKey(nextSelector)).kid).toBe(next.kid);
    expect(h.server.count(JWKS_PATH)).toBe(before + 1);
    expect(h.jwks.status()).toMatchObject({ consecutiveFailures: 0, retryAt: undefined });
  });

  it('a key published right after a forced refresh is accepted within cooldown/15, with a 304 meanwhile', async () => {
    const h = await harness(publicJwks(es256));
    await h.jwks.getKey(es);
    await expect(h.jwks.getKeys(nextSelector)).rejects.toMatchObject({ code: 'kid_unknown' });
    expect(h.events.seen).toEqual(['fetch 200', 'fetch 304']);
    h.server.setJwks(publicJwks(es256, next));
    h.clock.advance(1.9);
    await expect(h.jwks.getKeys(nextSelector)).rejects.toMatchObject({
      code: 'kid_unknown',
      reason: 'no key has this "kid"; a refresh is cooling down',
    });
    expect(h.server.count(JWKS_PATH)).toBe(2);
    h.clock.advance(0.1);
    expect((await h.jwks.getKey(nextSelector)).kid).toBe(next.kid);
    expect(h.server.count(JWKS_PATH)).toBe(3);
  });

  it('the limiter allows one unconditional refresh per cooldown and conditional ones spaced cooldown/15', () => {
    const limiter = kidRefreshLimiter(30);
    const granted = (t: number, conditional: boolean) => limiter.tryAcquire(t, conditional);
    expect(granted(100, false)).toBe(true);
    expect(granted(101, true)).toBe(false); // closer than 2 s
    expect(granted(102, false)).toBe(false); // unconditional: once per cooldown
    expect(granted(102, true)).toBe(true);
    expect(granted(129.9, false)).toBe(false);
    expect(granted(129.9, true)).toBe(true);
    expect(granted(130, false)).toBe(false); // a new cooldown, but only 0.1 s after the last
    expect(granted(131.9, false)).toBe(true);
  });
});

describe('a bounded wait for keys (maxWait)', () => {
  it('a cold receiver answers jwks_unavailable (503) once maxWait runs out; the fetch carries on', async () => {
    const held = heldResponse();
    const h = await harness(publicJwks(es256), {
      maxWait: '50ms',
      server: { handler: held.handler },
    });
    const err = await Promise.resolve(h.jwks.getKeys(es)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect(err).toMatchObject({
      code: 'jwks_unavailable',
      status: 503,
      reason: 'the key server is slow; still fetching',
    });
    await held.received.wait;
    held.hold.release();
    await h.events.settle(1);
    expect((await h.jwks.getKey(es)).kid).toBe(es256.kid);
    expect(h.server.count(JWKS_PATH)).toBe(1);
    expect(h.logger.at('error')).toHaveLength(0);
  });

  it('an unknown kid with keys at hand answers kid_unknown (401) once maxWait runs out; the key is there next time', async () => {
    const h = await harness(publicJwks(es256), { maxWait: '50ms' });
    await h.jwks.getKey(es);
    const held = heldResponse();
    h.server.setHandler(held.handler);
    h.server.setJwks(publicJwks(es256, next));
    const err = await Promise.resolve(h.jwks.getKeys(nextSelector)).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'kid_unknown',
      status: 401,
      reason: 'no key has this "kid" yet; the key server is slow, still fetching',
    });
    // The known key is not held up by the refresh in flight.
    expect((await h.jwks.getKey(es)).kid).toBe(es256.kid);
    held.hold.release();
    await h.events.settle(2);
    expect((await h.jwks.getKey(nextSelector)).kid).toBe(next.kid);
    expect(h.server.count(JWKS_PATH)).toBe(2);
  });

  it('refresh() (the warm-up) is not cut short by maxWait', async () => {
    const held = heldResponse();
    const h = await harness(publicJwks(es256), {
      maxWait: '10ms',
      server: { handler: held.handler },
    });
    const warm = h.jwks.refresh();
    await held.received.wait;
    await new Promise((resolve) => setTimeout(resolve, 50));
    held.hold.release();
    await expect(warm).resolves.toBeUndefined();
    expect(h.jwks.status().keys).toEqual([es256.kid]);
  });

  it.each([
    ['maxWait', { maxWait: -1 }, /"maxWait" must be/],
    ['maxWait', { maxWait: 'soon' }, /"maxWait" must be/],
    ['random', { random: 0.5 }, /"random" must be a function/],
  ])('a bad %s is a TypeError at construction', (_name, options, message) => {
    expect(() =>
      createRemoteJwks(
        'http://127.0.0.1:1/jwks',
        options as Parameters<typeof createRemoteJwks>[1],
      ),
    ).toThrow(message);
  });
});

describe('telemetry on changes of state', () => {
  it('one jwks.stale_served when serving stale begins, one jwks.recovered when it ends', async () => {
    const events: TokengateEvent[] = [];
    const h = await harness(publicJwks(es256), { onEvent: (e) => events.push(e) });
    await h.jwks.getKey(es);
    h.server.down();
    h.clock.advance(300);
    await failRepeatedly(h, 3, 100);
    h.server.up();
    await h.jwks.getKey(es);
    await h.events.settle(5);
    for (let i = 0; i < 100; i++) await h.jwks.getKey(es);
    const states = events.filter(
      (e) => e.type === 'jwks.stale_served' || e.type === 'jwks.recovered',
    );
    expect(states).toEqual([
      { type: 'jwks.stale_served', uri: h.server.url, ageSeconds: 300 },
      { type: 'jwks.recovered', uri: h.server.url, staleSeconds: 7 },
    ]);
  });

  it('a refresh that failed while the set was fresh reports stale once the set goes past fresh', async () => {
    const events: string[] = [];
    const h = await harness(publicJwks(es256), { onEvent: (e) => events.push(e.type) });
    await h.jwks.getKey(es);
    h.server.down();
    await expect(h.jwks.getKeys(nextSelector)).rejects.toMatchObject({ code: 'kid_unknown' });
    expect(events).not.toContain('jwks.stale_served');
    h.clock.advance(300);
    await h.jwks.getKey(es);
    expect(events.filter((e) => e === 'jwks.stale_served')).toHaveLength(1);
  });
});
