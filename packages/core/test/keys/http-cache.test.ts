import { describe, expect, it } from 'vitest';
import { parseCacheControl, toFreshness } from '../../src/keys/http/http-cache.js';
import type { FreshnessSource } from '../../src/keys/http/http-cache.js';

const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z
const policy = { minTtl: 30, maxTtl: 86_400, defaultTtl: 600, noCacheTtl: 30 };
const httpDate = (epoch: number): string => new Date(epoch * 1000).toUTCString();

const cases: {
  name: string;
  headers: Record<string, string>;
  ttl: number;
  source: FreshnessSource;
}[] = [
  { name: 'no caching headers: the default', headers: {}, ttl: 600, source: 'default' },
  { name: 'max-age', headers: { 'cache-control': 'max-age=300' }, ttl: 300, source: 'max-age' },
  {
    name: 'max-age among other directives, any case',
    headers: { 'cache-control': 'public, Max-Age=120, must-revalidate' },
    ttl: 120,
    source: 'max-age',
  },
  {
    name: 'quoted max-age',
    headers: { 'cache-control': 'max-age="90"' },
    ttl: 90,
    source: 'max-age',
  },
  {
    name: 'max-age minus Age',
    headers: { 'cache-control': 'max-age=300', age: '100' },
    ttl: 200,
    source: 'max-age',
  },
  {
    name: 'max-age=0 raised to minTtl',
    headers: { 'cache-control': 'max-age=0' },
    ttl: 30,
    source: 'max-age',
  },
  {
    name: 'max-age exactly minTtl',
    headers: { 'cache-control': 'max-age=30' },
    ttl: 30,
    source: 'max-age',
  },
  {
    name: 'max-age one past minTtl',
    headers: { 'cache-control': 'max-age=31' },
    ttl: 31,
    source: 'max-age',
  },
  {
    name: 'a year of max-age capped at maxTtl',
    headers: { 'cache-control': 'max-age=31536000' },
    ttl: 86_400,
    source: 'max-age',
  },
  {
    name: 'max-age exactly maxTtl',
    headers: { 'cache-control': 'max-age=86400' },
    ttl: 86_400,
    source: 'max-age',
  },
  {
    name: 'malformed max-age ignored',
    headers: { 'cache-control': 'max-age=5m' },
    ttl: 600,
    source: 'default',
  },
  {
    name: 'negative max-age ignored',
    headers: { 'cache-control': 'max-age=-1' },
    ttl: 600,
    source: 'default',
  },
  {
    name: 'the first of two max-age directives',
    headers: { 'cache-control': 'max-age=60, max-age=9000' },
    ttl: 60,
    source: 'max-age',
  },
  {
    name: 'max-age wins over s-maxage',
    headers: { 'cache-control': 's-maxage=900, max-age=60' },
    ttl: 60,
    source: 'max-age',
  },
  {
    name: 's-maxage as a fallback',
    headers: { 'cache-control': 'public, s-maxage=900' },
    ttl: 900,
    source: 's-maxage',
  },
  {
    name: 'no-cache: revalidate every time (noCacheTtl, not minTtl)',
    headers: { 'cache-control': 'no-cache, max-age=3600' },
    ttl: 30,
    source: 'no-cache',
  },
  { name: 'no-store', headers: { 'cache-control': 'no-store' }, ttl: 30, source: 'no-cache' },
  {
    name: 'no-cache naming a field concerns that field only',
    headers: { 'cache-control': 'no-cache="set-cookie", max-age=120' },
    ttl: 120,
    source: 'max-age',
  },
  {
    name: 'Expires relative to the server Date (skew-proof)',
    headers: { date: httpDate(NOW - 5000), expires: httpDate(NOW - 5000 + 1200) },
    ttl: 1200,
    source: 'expires',
  },
  {
    name: 'Expires without Date: relative to now',
    headers: { expires: httpDate(NOW + 240) },
    ttl: 240,
    source: 'expires',
  },
  {
    name: 'Expires in the past raised to minTtl',
    headers: { expires: httpDate(NOW - 60) },
    ttl: 30,
    source: 'expires',
  },
  {
    name: 'invalid Expires ("0") means expired: minTtl',
    headers: { expires: '0' },
    ttl: 30,
    source: 'expires',
  },
  {
    name: 'max-age wins over Expires',
    headers: { 'cache-control': 'max-age=100', expires: httpDate(NOW + 5000) },
    ttl: 100,
    source: 'max-age',
  },
];

describe('toFreshness', () => {
  it.each(cases)('$name', ({ headers, ttl, source }) => {
    const fresh = toFreshness(headers, NOW, policy);
    expect(fresh.freshUntil - NOW).toBe(ttl);
    expect(fresh.source).toBe(source);
  });

  it('works the same on a fetch Headers object', () => {
    const headers = new Headers({ 'Cache-Control': 'max-age=77', ETag: '"a"' });
    expect(toFreshness(headers, NOW, policy)).toEqual({
      etag: '"a"',
      lastModified: undefined,
      freshUntil: NOW + 77,
      source: 'max-age',
    });
  });

  it.each([
    { name: 'a strong ETag', etag: '"v1"' },
    { name: 'a weak ETag', etag: 'W/"v1"' },
    { name: 'an unquoted ETag (sent back as received)', etag: 'v1' },
  ])('keeps $name verbatim', ({ etag }) => {
    expect(toFreshness({ etag }, NOW, policy).etag).toBe(etag);
  });

  it('drops a validator too long to send back', () => {
    expect(toFreshness({ etag: `"${'x'.repeat(600)}"` }, NOW, policy).etag).toBeUndefined();
  });

  it('keeps a valid Last-Modified verbatim and drops an unparseable one', () => {
    const lastModified = httpDate(NOW - 86_400);
    expect(toFreshness({ 'last-modified': lastModified }, NOW, policy).lastModified).toBe(
      lastModified,
    );
    expect(toFreshness({ 'last-modified': 'yesterday' }, NOW, policy).lastModified).toBe(undefined);
  });

  it('clamps the default too', () => {
    expect(toFreshness({}, NOW, { ...policy, defaultTtl: 5 }).freshUntil).toBe(NOW + 30);
  });
});

describe('parseCacheControl', () => {
  it('lower-cases names, keeps values, and skips field-qualified no-cache', () => {
    expect([...parseCacheControl('Public, MAX-AGE=10, no-cache="x", private')]).toEqual([
      ['public', true],
      ['max-age', '10'],
      ['private', true],
    ]);
  });
});
