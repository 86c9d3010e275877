import { describe, expect, it } from 'vitest';
import { createMemoryReplayStore } from '../src/index.js';
import { createClock } from '@tokengate/test-fixtures/clock';

describe('createMemoryReplayStore', () => {
  it('answers true on first use and false on a replay', () => {
    const store = createMemoryReplayStore({ now: createClock().now });
    expect(store.add('a', 60)).toBe(true);
    expect(store.add('a', 60)).toBe(false);
    expect(store.add('b', 60)).toBe(true);
  });

  it('forgets a key when its ttl has passed on the injected clock, not before', () => {
    const clock = createClock();
    const store = createMemoryReplayStore({ now: clock.now });
    store.add('a', 60);
    clock.advance(60);
    expect(store.add('a', 60)).toBe(false); // still remembered at exactly its ttl
    clock.advance(1);
    expect(store.add('a', 60)).toBe(true);
  });

  it('when full of live keys, refuses new ones (503) rather than evicting one', () => {
    const clock = createClock();
    const store = createMemoryReplayStore({ max: 3, now: clock.now });
    for (const key of ['a', 'b', 'c']) expect(store.add(key, 60)).toBe(true);
    expect(() => store.add('d', 60)).toThrow(
      expect.objectContaining({ code: 'replay_store_unavailable', status: 503 }),
    );
    // Nothing was forgotten: every key is still a replay.
    for (const key of ['a', 'b', 'c']) expect(store.add(key, 60)).toBe(false);
  });

  it('when full, makes room from expired keys', () => {
    const clock = createClock();
    const store = createMemoryReplayStore({ max: 2, now: clock.now });
    store.add('short', 10);
    store.add('long', 600);
    clock.advance(11);
    expect(store.add('new', 60)).toBe(true);
    expect(store.add('long', 60)).toBe(false);
  });

  it.each([0, -1, 1.5, '10'])('max %s is a TypeError', (max) => {
    expect(() => createMemoryReplayStore({ max: max as number })).toThrow(TypeError);
  });
});
