import { LRUCache } from 'lru-cache';

// Rough bytes per entry: the key string (UTF-16) and the decoded claims, plus fixed overhead.
function entrySize(_entry: unknown, token: string): number {
  return token.length * 3 + 512;
}

/**
 * The verified-token LRU, keyed by the whole token string (never a prefix or a hash that could
 * collide), bounded in entries and bytes. Only successes are stored.
 */
export function createTokenCache<Entry extends object>({
  max,
  maxBytes,
}: {
  max: number;
  maxBytes: number;
}) {
  return new LRUCache<string, Entry>({ max, maxSize: maxBytes, sizeCalculation: entrySize });
}
