import { describe, expect, it } from 'vitest';
import { createBackoff, mergeResponse } from '../../src/keys/http/cached-document.js';
import type { Entry } from '../../src/keys/http/cached-document.js';
import { FetchFailed } from '../../src/keys/http/fetch.js';
import type { FetchedJson } from '../../src/keys/http/fetch.js';

const POLICY = { minTtl: 30, maxTtl: 86_400, defaultTtl: 300, noCacheTtl: 30 };
const NOW = 1_000;
const url = new URL('https://issuer.example/jwks.json');

const held: Entry<string> = Object.freeze({
  value: 'parsed-old',
  body: { keys: ['old'] },
  url,
  digest: 'digest-old',
  etag: '"v1"',
  lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT',
  fetchedAt: 100,
  freshUntil: 400,
});

function response(
  status: 200 | 304,
  headers: Record<string, string>,
  digest?: string,
): FetchedJson {
  return {
    status,
    url,
    headers: new Headers(headers),
    body: status === 200 ? { keys: [digest] } : undefined,
    digest,
  };
}

describe('mergeResponse: a 200 or 304 merged into the document held', () => {
  const cases: {
    name: string;
    current: Entry<string> | undefined;
    res: FetchedJson;
    value: string;
    changed: boolean;
    etag: string | undefined;
    lastModified: string | undefined;
    freshUntil: number;
    parsed: number;
  }[] = [
    {
      name: 'a first 200 is parsed, with its validators and lifetime',
      current: undefined,
      res: response(200, { etag: '"v2"', 'cache-control': 'max-age=600' }, 'digest-new'),
      value: 'parsed-digest-new',
      changed: true,
      etag: '"v2"',
      lastModified: undefined,
      freshUntil: NOW + 600,
      parsed: 1,
    },
    {
      name: 'a 200 with the same bytes keeps the value and takes the new validators',
      current: held,
      res: response(200, { 'cache-control': 'max-age=60' }, 'digest-old'),
      value: 'parsed-old',
      changed: false,
      etag: undefined,
      lastModified: undefined,
      freshUntil: NOW + 60,
      parsed: 0,
    },
    {
      name: 'a 200 with other bytes is parsed again',
      current: held,
      res: response(200, { etag: '"v3"' }, 'digest-new'),
      value: 'parsed-digest-new',
      changed: true,
      etag: '"v3"',
      lastModified: undefined,
      freshUntil: NOW + POLICY.defaultTtl,
      parsed: 1,
    },
    {
      name: 'a 304 keeps the value and validators it does not carry',
      current: held,
      res: response(304, { 'cache-control': 'max-age=120' }),
      value: 'parsed-old',
      changed: false,
      etag: '"v1"',
      lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT',
      freshUntil: NOW + 120,
      parsed: 0,
    },
    {
      name: 'a 304 updates the validators it carries (RFC 9111 §4.3.4)',
      current: held,
      res: response(304, { etag: '"v1b"', 'last-modified': 'Tue, 02 Jan 2024 00:00:00 GMT' }),
      value: 'parsed-old',
      changed: false,
      etag: '"v1b"',
      lastModified: 'Tue, 02 Jan 2024 00:00:00 GMT',
      freshUntil: NOW + POLICY.defaultTtl,
      parsed: 0,
    },
  ];

  it.each(cases)('$name', (c) => {
    let parsed = 0;
    const parse = (body: unknown): string => {
      parsed++;
      return `parsed-${(body as { keys: string[] }).keys[0]}`;
    };
    const merged = mergeResponse(c.current, c.res, url, NOW, POLICY, parse);
    expect(merged.entry.value).toBe(c.value);
    expect(merged.changed).toBe(c.changed);
    expect(merged.entry.etag).toBe(c.etag);
    expect(merged.entry.lastModified).toBe(c.lastModified);
    expect(merged.entry.fetchedAt).toBe(NOW);
    expect(merged.entry.freshUntil).toBe(c.freshUntil);
    expect(merged.entry.url).toBe(url);
    expect(parsed).toBe(c.parsed);
    // The held document is never changed in place.
    expect(held.fetchedAt).toBe(100);
  });

  it('a 304 with nothing held is a failed fetch', () => {
    const merge = () =>
      mergeResponse(undefined, response(304, {}), url, NOW, POLICY, () => 'never');
    expect(merge).toThrow(FetchFailed);
    expect(merge).toThrow('304 without a cached document');
  });
});

describe('createBackoff: the retry schedule after failed fetches', () => {
  it('waits after each failure, doubling, and forgets the run on success', () => {
    let now = 0;
    // random() = 0: the plain doubling from 1 s, capped at backoffMax.
    const backoff = createBackoff({ now: () => now, backoffMax: 4, random: () => 0 });
    expect(backoff.over()).toBe(true);
    const waits = [1, 2, 4, 4].map(() => backoff.failed(now, new Error('down')));
    expect(waits).toEqual([1, 2, 4, 4]);
    expect(backoff.consecutive).toBe(4);
    expect(backoff.retryAt).toBe(4);
    expect(backoff.over()).toBe(false);
    now = 4;
    expect(backoff.over()).toBe(true);
    backoff.succeeded();
    expect([backoff.total, backoff.consecutive, backoff.retryAt]).toEqual([4, 0, undefined]);
    expect(backoff.failed(now, new Error('down'))).toBe(1);
  });

  it('keeps the last failure for `cause` until a success, and its record for status()', () => {
    const backoff = createBackoff({ now: () => 7, backoffMax: 4, random: () => 0 });
    const down = new FetchFailed('HTTP 503', { status: 503 });
    backoff.failed(7, down);
    expect(backoff.failure).toBe(down);
    expect(backoff.lastError).toEqual({ message: 'HTTP 503', at: 7, status: 503 });
    backoff.succeeded();
    expect(backoff.failure).toBeUndefined();
    expect(backoff.lastError).toEqual({ message: 'HTTP 503', at: 7, status: 503 });
  });
});
