// Pure HTTP caching decisions (RFC 9111) for the JWKS and discovery caches: no I/O here.

/** Bounds for the freshness lifetime, in seconds. */
export interface FreshnessPolicy {
  /** Lower bound for a lifetime the server gave (`max-age=0` included). */
  minTtl: number;
  /** Upper bound for any lifetime. */
  maxTtl: number;
  /** Lifetime when the server says nothing usable. */
  defaultTtl: number;
  /**
   * Lifetime for `no-cache` / `no-store`: "revalidate every time", bounded by the caller's
   * cooldown. Not raised to `minTtl`.
   */
  noCacheTtl: number;
}

/** Where a freshness lifetime came from (for `status()` and tests). */
export type FreshnessSource = 'max-age' | 's-maxage' | 'expires' | 'no-cache' | 'default';

/** The caching facts of one response. */
export interface Freshness {
  /** `ETag` exactly as received (strong or weak), to send back verbatim. */
  etag: string | undefined;
  /** `Last-Modified` exactly as received, to send back as `If-Modified-Since`. */
  lastModified: string | undefined;
  /** Epoch seconds until which the response is fresh. */
  freshUntil: number;
  /** Where the lifetime came from. */
  source: FreshnessSource;
}

/** Headers as `fetch` returns them, or a plain lower-case record (tests). */
export type HeaderSource = Headers | Readonly<Record<string, string | undefined>>;

// A validator longer than this is not a validator we send back to anyone.
const MAX_VALIDATOR = 512;

function header(headers: HeaderSource, name: string): string | undefined {
  const value = headers instanceof Headers ? headers.get(name) : headers[name];
  return value === null || value === undefined ? undefined : value;
}

/**
 * Parses `Cache-Control` into lower-case directives. A directive with a field-name list
 * (`no-cache="set-cookie"`) only concerns those fields and is not returned.
 */
export function parseCacheControl(value: string | undefined): Map<string, string | true> {
  const directives = new Map<string, string | true>();
  if (!value) return directives;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (!name || directives.has(name)) continue;
    if (eq < 0) {
      directives.set(name, true);
      continue;
    }
    const raw = part.slice(eq + 1).trim();
    const unquoted = raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
    if ((name === 'no-cache' || name === 'private') && unquoted !== '') continue;
    directives.set(name, unquoted);
  }
  return directives;
}

// RFC 9111 §1.2.2: delta-seconds is digits only; anything else makes the directive invalid.
function deltaSeconds(value: string | true | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,10}$/.test(value)) return undefined;
  return Number(value);
}

function httpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/**
 * Maps a response's headers and the time it arrived to `{ etag, lastModified, freshUntil }`.
 *
 * The lifetime comes from `Cache-Control: max-age` (minus `Age`), else `s-maxage` (written for
 * shared caches, which a fleet-wide key cache resembles, so it is a fallback only), else
 * `Expires` (relative to the server's `Date` when present, so clock skew does not matter), else
 * `defaultTtl`; it is clamped to `[minTtl, maxTtl]`. `no-cache` and `no-store` mean "revalidate
 * every time": the lifetime is `noCacheTtl`.
 */
export function toFreshness(
  headers: HeaderSource,
  now: number,
  policy: FreshnessPolicy,
): Freshness {
  const etag = header(headers, 'etag');
  const lastModified = header(headers, 'last-modified');
  const result = (ttl: number, source: FreshnessSource): Freshness => ({
    etag: etag !== undefined && etag.length <= MAX_VALIDATOR ? etag : undefined,
    lastModified:
      lastModified !== undefined &&
      lastModified.length <= MAX_VALIDATOR &&
      httpDate(lastModified) !== undefined
        ? lastModified
        : undefined,
    freshUntil: now + ttl,
    source,
  });
  const clamp = (ttl: number): number => Math.min(policy.maxTtl, Math.max(policy.minTtl, ttl));

  const cc = parseCacheControl(header(headers, 'cache-control'));
  if (cc.has('no-store') || cc.has('no-cache')) {
    return result(Math.min(policy.noCacheTtl, policy.maxTtl), 'no-cache');
  }
  const age = deltaSeconds(header(headers, 'age')) ?? 0;
  const maxAge = deltaSeconds(cc.get('max-age'));
  if (maxAge !== undefined) return result(clamp(maxAge - age), 'max-age');
  const sMaxAge = deltaSeconds(cc.get('s-maxage'));
  if (sMaxAge !== undefined) return result(clamp(sMaxAge - age), 's-maxage');
  const expiresHeader = header(headers, 'expires');
  if (expiresHeader !== undefined) {
    // RFC 9111 §5.3: an invalid Expires (such as "0") means "already expired".
    const expires = httpDate(expiresHeader);
    const base = httpDate(header(headers, 'date')) ?? now;
    return result(clamp(expires === undefined ? 0 : expires - base - age), 'expires');
  }
  return result(clamp(policy.defaultTtl), 'default');
}
