/**
 * Freezes `value` and everything reachable from it. Iterative, so its cost is bounded by the
 * size of the value, never by the call stack (decoded JSON is at most MAX_JSON_DEPTH deep
 * anyway). Already-frozen parts (a memoized header) are skipped.
 */
export function deepFreeze<T>(value: T): T {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== 'object' || next === null || Object.isFrozen(next)) continue;
    Object.freeze(next);
    for (const key in next) {
      const member = (next as Record<string, unknown>)[key];
      // Only containers need a turn: most claims are strings and numbers.
      if (typeof member === 'object' && member !== null) pending.push(member);
    }
  }
  return value;
}
