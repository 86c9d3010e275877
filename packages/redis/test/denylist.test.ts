// createRedisDenylist against a real redis-server on loopback: several receivers in this process,
// each with its own connections, as separate processes would have.
import { describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { createRedisDenylist } from '../src/index.js';
import { scoredMembers } from '../src/denylist.js';
import { EventEmitter } from 'node:events';
import type { DenylistClient, RedisDenylist, RedisDenylistOptions } from '../src/index.js';
import { startRedisServer } from '@tokengate/test-fixtures/redis-server';
import type { RedisServer } from '@tokengate/test-fixtures/redis-server';
import { startTcpProxy } from '@tokengate/test-fixtures/tcp-proxy';
import type { TcpProxy } from '@tokengate/test-fixtures/tcp-proxy';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import { redisSuite } from './redis-suite.js';

const redis = redisSuite();
const opened = redis.opened;

let counter = 0;
/** A jti no other test uses. */
const freshJti = () => `jti-${++counter}-${Date.now()}`;
/** A prefix no other test uses: each test its own list and channel. */
const freshPrefix = () => `test:${++counter}:`;
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

function denylist(options: Partial<RedisDenylistOptions> & { prefix: string }): RedisDenylist {
  const d = createRedisDenylist({ url: redis.server.url, logger: false, ...options });
  opened.push(d);
  return d;
}

async function proxy(): Promise<TcpProxy> {
  const p = await startTcpProxy(redis.server.port);
  opened.push(p);
  return p;
}

/**
 * Waits until `condition()` holds, polling every millisecond; the milliseconds it took. Throws
 * after `limitMs` (a bound for a broken implementation, not a timing assertion).
 */
async function waitFor(condition: () => boolean, limitMs = 10_000): Promise<number> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return performance.now() - started;
}

/** The hook's answer, or the code it threw. */
function answer(d: RedisDenylist, payload: Record<string, unknown>): boolean | string {
  try {
    return d.revoked(payload);
  } catch (err) {
    return (err as { code: string }).code;
  }
}

describe('createRedisDenylist', () => {
  it('a jti revoked on one receiver is refused by every other one within 100 ms', async () => {
    const prefix = freshPrefix();
    const receivers = [0, 1, 2, 3].map(() => denylist({ prefix }));
    const revoker = denylist({ prefix });
    await Promise.all([...receivers, revoker].map((d) => d.ready()));
    // The bound, measured from revoke() resolving to the last receiver refusing. On a
    // loaded two-core machine one round may stall on the scheduler: the best of three rounds
    // must meet it (each round is a fresh jti, so each is a full propagation).
    const rounds: number[] = [];
    for (let round = 0; round < 3 && !(Math.min(...rounds) <= 100); round++) {
      const jti = freshJti();
      expect(receivers.map((d) => d.revoked({ jti }))).toEqual([false, false, false, false]);
      const versions = receivers.map((d) => d.revoked.version);
      await revoker.revoke(jti, inAnHour());
      expect(revoker.revoked({ jti })).toBe(true); // the revoking receiver at once
      rounds.push(await waitFor(() => receivers.every((d) => d.revoked({ jti })), 5000));
      // A new entry moves each receiver's version: cached "not revoked" answers are asked again.
      receivers.forEach((d, i) => expect(d.revoked.version).toBeGreaterThan(versions[i]!));
    }
    expect(Math.min(...rounds)).toBeLessThanOrEqual(100);
  });

  it('a receiver started later loads the revocations made before it', async () => {
    const prefix = freshPrefix();
    const revoker = denylist({ prefix });
    const jtis = [freshJti(), freshJti()];
    for (const jti of jtis) await revoker.revoke(jti, inAnHour());
    const late = denylist({ prefix, onUnsure: 'fail-closed' });
    expect(late.revoked.version).toBeNaN(); // not loaded: every hit must ask
    expect(answer(late, { jti: jtis[0] })).toBe('revocation_unavailable'); // not loaded yet
    await late.ready();
    expect(jtis.map((jti) => late.revoked({ jti }))).toEqual([true, true]);
    expect(late.revoked({ jti: freshJti() })).toBe(false);
    expect(late.size).toBe(2);
  });

  it('stores each entry until its exp plus keepAfterExp, and purges it after', async () => {
    const prefix = freshPrefix();
    let now = 1_800_000_000;
    const clock = () => now;
    const revoker = denylist({ prefix, now: clock, keepAfterExp: 60 });
    await revoker.ready();
    const soon = freshJti();
    const later = freshJti();
    await revoker.revoke(soon, now + 10);
    await revoker.revoke(later, now + 1000);
    expect(await redis.admin.zScore(`${prefix}jtis`, soon)).toBe(now + 10);
    now += 10 + 60; // soon's exp + keepAfterExp: still kept (a clock-tolerant receiver accepts it)
    await revoker.revoke(freshJti(), now + 1000);
    expect(await redis.admin.zScore(`${prefix}jtis`, soon)).toBe(now - 60);
    now += 1;
    await revoker.revoke(freshJti(), now + 1000); // any revoke purges what expired
    expect(await redis.admin.zScore(`${prefix}jtis`, soon)).toBeNull();
    // A receiver loading now holds only what is still live, even if Redis still had more.
    await redis.admin.zAdd(`${prefix}jtis`, { score: now - 61, value: 'stale' });
    const late = denylist({ prefix, now: clock, keepAfterExp: 60 });
    await late.ready();
    expect([soon, 'stale', later].map((jti) => late.revoked({ jti }))).toEqual([
      false,
      false,
      true,
    ]);
  });

  it('keeps the later exp of a jti revoked twice', async () => {
    const prefix = freshPrefix();
    const revoker = denylist({ prefix });
    const jti = freshJti();
    await revoker.revoke(jti, inAnHour() + 100);
    await revoker.revoke(jti, inAnHour());
    expect(await redis.admin.zScore(`${prefix}jtis`, jti)).toBe(inAnHour() + 100);
  });

  it('a token without a string jti is not revocable by jti: accepted, even when unsure', async () => {
    const errors: Error[] = [];
    const unreachable = createRedisDenylist({
      url: 'redis://127.0.0.1:1',
      prefix: freshPrefix(),
      logger: false,
      onUnsure: 'fail-closed',
      onError: (err) => errors.push(err),
    });
    opened.push(unreachable);
    // Connection errors before any load do not start a maxUnsure grace: there is no list to trust.
    await waitFor(() => errors.length > 0);
    expect(answer(unreachable, {})).toBe(false);
    expect(answer(unreachable, { jti: 42 })).toBe(false);
    expect(answer(unreachable, { jti: 'j' })).toBe('revocation_unavailable');
    const ready = unreachable.ready();
    await unreachable.close();
    await expect(ready).rejects.toThrow('closed before its first load');
  });

  it('by default an unsure receiver fails open: a Redis outage never refuses a valid token', async () => {
    const logger = createCapturingLogger();
    const unreachable = createRedisDenylist({
      url: 'redis://127.0.0.1:1',
      prefix: freshPrefix(),
      logger,
    });
    opened.push(unreachable);
    expect(answer(unreachable, { jti: 'j' })).toBe(false);
    expect(answer(unreachable, { jti: 'k' })).toBe(false);
    const unsure = logger.entries.filter((e) => e.obj.event === 'revocation_unsure');
    expect(unsure).toHaveLength(1);
    expect(unsure[0]).toMatchObject({ level: 'warn', obj: { policy: 'fail-open' } });
    const ready = unreachable.ready();
    await unreachable.close();
    await expect(ready).rejects.toThrow('closed before its first load');
  });

  it('ignores what is not a revocation on its channel', async () => {
    const prefix = freshPrefix();
    const d = denylist({ prefix });
    await d.ready();
    for (const junk of ['not json', '{"jti":1,"exp":2}', '{"jti":"x"}', 'null', '[]']) {
      await redis.admin.publish(`${prefix}events`, junk);
    }
    const jti = freshJti();
    await redis.admin.publish(`${prefix}events`, JSON.stringify({ jti, exp: inAnHour() }));
    await waitFor(() => d.revoked({ jti }));
    expect(d.size).toBe(1);
  });

  it('after a partition, the receiver reloads and knows the revocations made while away', async () => {
    const prefix = freshPrefix();
    const link = await proxy();
    const errors: Error[] = [];
    const away = denylist({
      prefix,
      url: `redis://127.0.0.1:${link.port}`,
      onError: (err) => errors.push(err),
    });
    const revoker = denylist({ prefix });
    await Promise.all([away.ready(), revoker.ready()]);
    const before = freshJti();
    await revoker.revoke(before, inAnHour());
    await waitFor(() => away.revoked({ jti: before }));

    const seen = away.revoked.version;
    expect(seen).toBeGreaterThan(0);
    link.cut();
    await waitFor(() => errors.length > 0);
    // While not connected, its version is NaN: a cached token's "not revoked" is not reused.
    expect(away.revoked.version).toBeNaN();
    const whileAway = freshJti();
    await revoker.revoke(whileAway, inAnHour()); // published while `away` is not subscribed
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(away.revoked({ jti: whileAway })).toBe(false); // it could not have heard
    const accepted = link.accepted;
    link.heal();
    await waitFor(() => away.revoked({ jti: whileAway }));
    expect(link.accepted).toBeGreaterThan(accepted); // it reconnected, then reloaded
    expect(away.revoked.version).toBeGreaterThan(seen);
    expect(away.revoked({ jti: before })).toBe(true);
    // Pushes reach it again once reconnected.
    const after = freshJti();
    await revoker.revoke(after, inAnHour());
    await waitFor(() => away.revoked({ jti: after }));
  });

  it('a silent partition (packets dropped, no reset) is noticed by its pings', async () => {
    const prefix = freshPrefix();
    const link = await proxy();
    const d = denylist({
      prefix,
      url: `redis://127.0.0.1:${link.port}`,
      maxUnsure: '500ms',
      onUnsure: 'fail-closed',
    });
    const revoker = denylist({ prefix });
    await Promise.all([d.ready(), revoker.ready()]);
    link.freeze();
    // Pinged every 100 ms: three unanswered pings, then maxUnsure, and the policy applies.
    await waitFor(() => !d.current, 10_000);
    expect(answer(d, { jti: freshJti() })).toBe('revocation_unavailable');
    const whileSilent = freshJti();
    await revoker.revoke(whileSilent, inAnHour());
    link.thaw();
    await waitFor(() => d.current, 10_000);
    expect(answer(d, { jti: whileSilent })).toBe(true);
  });

  describe('unsure: disconnected longer than maxUnsure', () => {
    async function partitioned(onUnsure: 'fail-closed' | 'fail-open') {
      const prefix = freshPrefix();
      const link = await proxy();
      const logger = createCapturingLogger();
      const d = denylist({
        prefix,
        url: `redis://127.0.0.1:${link.port}`,
        maxUnsure: '300ms',
        onUnsure,
        logger,
      });
      const revoker = denylist({ prefix });
      await Promise.all([d.ready(), revoker.ready()]);
      const known = freshJti();
      await revoker.revoke(known, inAnHour());
      await waitFor(() => d.revoked({ jti: known }));
      link.cut();
      await waitFor(() => !d.current, 5000);
      return { d, link, logger, known };
    }

    it('within maxUnsure the list held is trusted; past it fail-closed answers 503', async () => {
      const prefix = freshPrefix();
      const link = await proxy();
      const d = denylist({
        prefix,
        url: `redis://127.0.0.1:${link.port}`,
        maxUnsure: '1s',
        onUnsure: 'fail-closed',
      });
      await d.ready();
      link.cut();
      // The subscription dropped, but a blip shorter than maxUnsure changes nothing.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(answer(d, { jti: 'unknown' })).toBe(false);
      expect(d.current).toBe(true);
      await waitFor(() => !d.current, 5000);
      expect(answer(d, { jti: 'unknown' })).toBe('revocation_unavailable');
      link.heal();
      await waitFor(() => d.current, 10_000);
      expect(answer(d, { jti: 'unknown' })).toBe(false);
    });

    it('fail-closed: every token with a jti gets revocation_unavailable until reloaded', async () => {
      const { d, link, known } = await partitioned('fail-closed');
      expect(answer(d, { jti: known })).toBe('revocation_unavailable');
      expect(answer(d, { jti: freshJti() })).toBe('revocation_unavailable');
      expect(answer(d, {})).toBe(false);
      link.heal();
      await waitFor(() => d.current, 10_000);
      expect(answer(d, { jti: known })).toBe(true);
      expect(answer(d, { jti: freshJti() })).toBe(false);
    });

    it('fail-open: answers from the list held, logged once per episode', async () => {
      const { d, link, logger, known } = await partitioned('fail-open');
      expect(answer(d, { jti: known })).toBe(true); // what it knows is still refused
      expect(answer(d, { jti: freshJti() })).toBe(false);
      expect(answer(d, { jti: freshJti() })).toBe(false);
      const unsure = () => logger.entries.filter((e) => e.obj.event === 'revocation_unsure');
      expect(unsure()).toHaveLength(1);
      expect(unsure()[0]).toMatchObject({ level: 'warn', obj: { policy: 'fail-open' } });
      link.heal();
      await waitFor(() => d.current, 10_000);
      expect(logger.entries.filter((e) => e.obj.event === 'revocation_current')).toHaveLength(1);
      // A second episode is logged again.
      link.cut();
      await waitFor(() => !d.current, 5000);
      d.revoked({ jti: freshJti() });
      expect(unsure()).toHaveLength(2);
    });
  });

  it('a Redis restarted empty relearns the list from the receivers still holding it', async () => {
    const restartable = await startRedisServer();
    const url = restartable.url;
    const prefix = freshPrefix();
    const a = createRedisDenylist({ url, prefix, logger: false });
    const b = createRedisDenylist({ url, prefix, logger: false });
    let c: RedisDenylist | undefined;
    let again: RedisServer | undefined;
    try {
      await Promise.all([a.ready(), b.ready()]);
      const jti = freshJti();
      await a.revoke(jti, inAnHour());
      await waitFor(() => b.revoked({ jti }));
      await restartable.close();
      await waitFor(() => !a.current && !b.current, 10_000);
      again = await startRedisServer({ port: restartable.port });
      await waitFor(() => a.current && b.current, 10_000);
      // Both wrote back what they hold: a receiver started now learns it from Redis.
      c = createRedisDenylist({ url, prefix, logger: false });
      await c.ready();
      expect(c.revoked({ jti })).toBe(true);
      // And pushes flow again after the restart.
      const next = freshJti();
      await c.revoke(next, inAnHour());
      await waitFor(() => a.revoked({ jti: next }) && b.revoked({ jti: next }));
    } finally {
      for (const d of [a, b, c]) await d?.close();
      await again?.close();
      await restartable.close();
    }
  });

  it('works on a client you own: commands on it, the subscription on its duplicate', async () => {
    const prefix = freshPrefix();
    const client = createClient({ url: redis.server.url });
    await client.connect();
    opened.push({ close: async () => client.isOpen && client.destroy() });
    const mine = createRedisDenylist({ client, prefix, logger: false });
    opened.push(mine);
    const other = denylist({ prefix });
    await Promise.all([mine.ready(), other.ready()]);
    const jti = freshJti();
    await mine.revoke(jti, inAnHour());
    await waitFor(() => other.revoked({ jti }));
    await mine.close();
    expect(client.isOpen).toBe(true); // yours stays open
  });

  it.each([2, 3] as const)(
    'your own client speaking RESP%i: the load reads the list (RESP3 sends pairs)',
    async (RESP) => {
      const prefix = freshPrefix();
      const revoker = denylist({ prefix });
      const jti = freshJti();
      await revoker.revoke(jti, inAnHour());
      const client = createClient({ url: redis.server.url, RESP });
      await client.connect();
      opened.push({ close: async () => client.isOpen && client.destroy() });
      const late = createRedisDenylist({ client, prefix, logger: false });
      opened.push(late);
      await late.ready();
      expect(late.size).toBe(1);
      expect(late.revoked({ jti })).toBe(true);
    },
  );

  it('a reload that ends after the subscription was lost does not make the list current', async () => {
    // A fake client: the reload waits until released, the subscription is an EventEmitter.
    let releaseReload: (() => void) | undefined;
    const sub = Object.assign(new EventEmitter(), {
      connect: async () => {},
      subscribe: async () => {},
      destroy: () => {},
    });
    const client = {
      sendCommand: (args: string[]) =>
        args[0] === 'ZRANGEBYSCORE'
          ? new Promise((resolve) => (releaseReload = () => resolve([])))
          : Promise.resolve(1),
      duplicate: () => sub,
    };
    const d = createRedisDenylist({
      client: client as unknown as DenylistClient,
      onUnsure: 'fail-closed',
      logger: false,
      timeoutMs: 5000,
    });
    opened.push(d);
    await waitFor(() => releaseReload !== undefined);
    sub.emit('reconnecting'); // lost while the load is in flight
    releaseReload!();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(d.current).toBe(false);
    expect(answer(d, { jti: 'j' })).toBe('revocation_unavailable');
    releaseReload = undefined;
    sub.emit('ready'); // subscribed again: the list is read again, then current
    await waitFor(() => releaseReload !== undefined);
    expect(d.current).toBe(false);
    releaseReload!();
    await d.ready();
    await waitFor(() => d.current);
    expect(answer(d, { jti: 'j' })).toBe(false);
  });

  it.each<[string, unknown, [string, number][] | RegExp]>([
    [
      'RESP2, flat',
      ['a', '1800000000', 'b', '1800000001'],
      [
        ['a', 1_800_000_000],
        ['b', 1_800_000_001],
      ],
    ],
    ['RESP3, pairs', [['a', 1_800_000_000]], [['a', 1_800_000_000]]],
    ['empty', [], []],
    ['not an array', 'OK', /unexpected/],
    ['a score that is no number', ['a', 'x'], /unexpected/],
    ['a member that is no string', [[1, 2]], /unexpected/],
  ])('scoredMembers: %s', (_name, reply, expected) => {
    if (expected instanceof RegExp) expect(() => scoredMembers(reply)).toThrow(expected);
    else expect(scoredMembers(reply)).toEqual(expected);
  });

  it('revoke() rejects when Redis cannot be reached', async () => {
    const link = await proxy();
    link.cut();
    const d = denylist({
      prefix: freshPrefix(),
      url: `redis://127.0.0.1:${link.port}`,
      timeoutMs: 200,
    });
    await expect(d.revoke(freshJti(), inAnHour())).rejects.toThrow(/within 200 ms|closed/);
  });

  const mistakes: [string, unknown, RegExp][] = [
    ['no client nor url', {}, /exactly one of "client" and "url"/],
    ['both', { url: 'redis://x', client: {} }, /exactly one/],
    ['a bad url', { url: 'http://x' }, /redis:\/\//],
    ['a bad client', { client: { set() {} } }, /node-redis client/],
    ['a bad policy', { url: 'redis://x', onUnsure: 'open' }, /"onUnsure"/],
    ['a bad maxUnsure', { url: 'redis://x', maxUnsure: '5 minutes' }, /"maxUnsure"/],
    ['a bad keepAfterExp', { url: 'redis://x', keepAfterExp: -1 }, /"keepAfterExp"/],
    ['a bad timeoutMs', { url: 'redis://x', timeoutMs: 0 }, /"timeoutMs"/],
    ['a bad logger', { url: 'redis://x', logger: console.log }, /"logger"/],
    ['an unknown option', { url: 'redis://x', maxUnsureMs: 5 }, /unknown option `maxUnsureMs`/],
  ];
  it.each(mistakes)('%s is a TypeError at construction', (_name, options, message) => {
    expect(() => createRedisDenylist(options as RedisDenylistOptions)).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(message) }),
    );
  });

  it.each([
    ['', 1],
    ['x'.repeat(1025), 1],
    ['ok', NaN],
    ['ok', '1800000000'],
  ])('revoke(%j, %j) is a TypeError', async (jti, exp) => {
    const d = denylist({ prefix: freshPrefix() });
    await expect(d.revoke(jti, exp as number)).rejects.toThrow(TypeError);
  });
});
