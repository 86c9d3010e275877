import { LRUCache } from 'lru-cache';
import type { TimeClaims } from './claims.js';
import type { VerificationKey, VerifiedToken } from './types.js';

/** What the cache remembers about a verified token. */
export interface CacheEntry {
  result: VerifiedToken;
  times: TimeClaims;
  /** The key that verified it: a hit is refused once that key is no longer published. */
  key: VerificationKey | undefined;
}

// Rough bytes per entry: the key string (UTF-16) and the decoded claims, plus fixed overhead.
function entrySize(_entry: CacheEntry, token: string): number {
  return token.length * 3 + 512;
}

/**
 * The verified-token LRU, keyed by the whole token string (never a prefix or a hash that could
 * collide), bounded in entries and bytes. Only successes are stored.
 */
export function createTokenCache({ max, maxBytes }: { max: number; maxBytes: number }) {
  return new LRUCache<string, CacheEntry>({ max, maxSize: maxBytes, sizeCalculation: entrySize });
}

export type TokenCache = ReturnType<typeof createTokenCache>;
