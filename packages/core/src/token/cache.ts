import { LRUCache } from 'lru-cache';

// Rough bytes per entry: the key string (UTF-16) and the decoded claims, plus fixed overhead.
function entrySize(_entry: unknown, token: string): number {
  return token.length * 3 + 512;
}

/**
 * How many trailing characters of a token key the LRU. A token arrives as a new string on every
 * request, and a Map hashes every character of a new string it is asked for: about 1.3 µs for a
 * 700-character RS256 token, the largest part of a cache hit. The tail is the signature (or a
 * JWE's tag): 32 characters (192 bits) that only the issuer's key could have produced.
 */
export const TOKEN_KEY_LENGTH = 32;

/** The LRU key of a token: its last `TOKEN_KEY_LENGTH` characters (the slice copies nothing). */
export const tokenKey = (token: string): string =>
  token.length > TOKEN_KEY_LENGTH ? token.slice(-TOKEN_KEY_LENGTH) : token;

interface Slot<Entry> {
  token: string;
  entry: Entry;
}

/** The verified-token cache: `get`, `set` and `delete` by the whole token string. */
export interface TokenCache<Entry> {
  /** The entry of exactly this token, or undefined. */
  get(token: string): Entry | undefined;
  set(token: string, entry: Entry): void;
  /** Removes the entry of exactly this token (another token with the same key stays). */
  delete(token: string): void;
}

/**
 * The verified-token LRU, bounded in entries and bytes. Only successes are stored. It is keyed by
 * the token's tail (`tokenKey`), but an entry is returned only for the exact token it was stored
 * with (a full string comparison, a few nanoseconds): a token that shares the tail of a cached
 * one (crafted, or a respelling) is a miss, never a hit, and cannot evict it either, since only a
 * token that verified is ever stored.
 */
export function createTokenCache<Entry extends object>({
  max,
  maxBytes,
}: {
  max: number;
  maxBytes: number;
}): TokenCache<Entry> {
  const lru = new LRUCache<string, Slot<Entry>>({
    max,
    maxSize: maxBytes,
    sizeCalculation: (slot) => entrySize(slot.entry, slot.token),
  });
  return {
    get(token) {
      const slot = lru.get(tokenKey(token));
      return slot !== undefined && slot.token === token ? slot.entry : undefined;
    },
    set(token, entry) {
      // Two valid tokens sharing 192 bits of signature do not happen; if they did, the later
      // one would take the slot, which costs the earlier one a verification, nothing more.
      lru.set(tokenKey(token), { token, entry });
    },
    delete(token) {
      const key = tokenKey(token);
      if (lru.peek(key)?.token === token) lru.delete(key);
    },
  };
}
