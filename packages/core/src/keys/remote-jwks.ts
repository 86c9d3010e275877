import { VerificationError } from '../errors.js';
import { logSafe } from '../telemetry/log.js';
import type { KeySelector, KeySource, VerificationKey } from './types.js';
import { checkKeyServerUrl, loggableUrl } from './http/fetch.js';
import { KeyRejected, importVerificationKey, privateMaterialOf } from './jwk.js';
import { indexByKid, selectKeys } from './local.js';
import { documentOptions, toRemoteSettings } from './remote-options.js';
import type { RemoteJwksOptions, RemoteSettings } from './remote-options.js';
import { createCachedDocument, timedOut, waitAtMost } from './http/cached-document.js';
import type {
  CachedDocument,
  DocumentCounters,
  DocumentState,
  FetchInfo,
} from './http/cached-document.js';

export type { RemoteJwksOptions } from './remote-options.js';
export type {
  FetchInfo as JwksFetchInfo,
  LastError as JwksLastError,
} from './http/cached-document.js';

/** What a health check needs to know about a remote key set. Times are epoch seconds. */
export interface RemoteJwksStatus extends DocumentCounters {
  /** The JWKS URL (query string removed). */
  uri: string;
  /** `cold`: never loaded; `stale`: past fresh, still served; `expired`: past `maxStale`. */
  state: DocumentState;
  /** The `kid`s of the usable keys, in set order. */
  keys: string[];
  /** Usable keys, with or without `kid`. */
  keyCount: number;
  etag: string | undefined;
  lastModified: string | undefined;
  fetchedAt: number | undefined;
  freshUntil: number | undefined;
  /** Seconds since the set was last fetched or revalidated. */
  age: number | undefined;
  /** True while a fetch is in flight. */
  refreshing: boolean;
}

/** A remote JWKS: a KeySource with a single-key lookup and observability. */
export interface RemoteJwks extends KeySource {
  /** The URL as configured. */
  readonly uri: string;
  /**
   * The one key for this header. Rejects with `kid_unknown` when none fits or when several fit
   * (duplicate `kid`s that `alg` does not tell apart: never guessed), `jwks_unavailable` when
   * no keys can be loaded.
   */
  getKey(selector: KeySelector): Promise<VerificationKey>;
  status(): RemoteJwksStatus;
}

interface KeySet {
  readonly keys: readonly VerificationKey[];
  readonly byKid: ReadonlyMap<string, VerificationKey[]>;
  readonly published: ReadonlySet<VerificationKey>;
  /** Imported keys by their JWK text, so an unchanged key keeps its object across versions. */
  readonly byJson: ReadonlyMap<string, VerificationKey>;
}

/**
 * Creates the cache for one JWKS URL. Fetching starts on first use (or `refresh()`); after
 * that the set is revalidated in the background with `If-None-Match` / `If-Modified-Since`
 * once stale, and the last good keys are served for `maxStale` while the server fails.
 * Throws a TypeError for a non-`https:` URL (loopback excepted) or an invalid option.
 *
 * @example
 * const jwks = createRemoteJwks('https://issuer.example.com/.well-known/jwks.json');
 * await jwks.refresh(); // warm-up: fail at start-up rather than on the first request
 * const key = await jwks.getKey({ kid: header.kid, alg: header.alg });
 */
export function createRemoteJwks(uri: string, options: RemoteJwksOptions = {}): RemoteJwks {
  const settings = toRemoteSettings(options);
  const checked = checkKeyServerUrl(uri, settings.allowInsecureHttp);
  if ('problem' in checked) throw new TypeError(`"jwksUri" ${checked.problem}`);
  return remoteJwksFor(uri, checked.url, settings);
}

/** What `status()` reports: the held key set, its age and the fetch counters. */
function statusOf(
  resource: CachedDocument<KeySet>,
  url: URL,
  settings: RemoteSettings,
): RemoteJwksStatus {
  const entry = resource.held();
  const now = settings.now();
  const set = resource.unexpired()?.value;
  return {
    uri: loggableUrl(url),
    state: resource.state(),
    keys: (set?.keys ?? []).flatMap((k) => (k.kid === undefined ? [] : [k.kid])),
    keyCount: set?.keys.length ?? 0,
    etag: entry?.etag,
    lastModified: entry?.lastModified,
    fetchedAt: entry?.fetchedAt,
    freshUntil: entry?.freshUntil,
    age: entry ? now - entry.fetchedAt : undefined,
    refreshing: resource.fetching,
    ...resource.counters(),
  };
}

/**
 * Whether the key server honours validators. A 200 to a forced refresh sent with validators means
 * it ignores them (or the set changed): forced refreshes then count as full downloads, one per
 * cooldown, until it answers 304 again.
 */
function watchValidators(settings: RemoteSettings) {
  let forcedConditional = false;
  let ignored = false;
  return {
    ignored: () => ignored,
    forced(conditional: boolean): void {
      forcedConditional = conditional;
    },
    onFetch(info: FetchInfo): void {
      if (info.status === 304) ignored = false;
      else if (forcedConditional) ignored = true;
      forcedConditional = false;
      settings.onFetch?.(info);
    },
    onError(err: Error): void {
      forcedConditional = false;
      settings.onError?.(err);
    },
  };
}

/** Internal: builds the cache from validated settings (discovery shares them). */
export function remoteJwksFor(uri: string, url: URL, settings: RemoteSettings): RemoteJwks {
  const validatorWatch = watchValidators(settings);
  const resource: CachedDocument<KeySet> = createCachedDocument<KeySet>({
    ...documentOptions(settings, {
      urls: [url],
      event: 'jwks_fetch_failed',
      parse: (body, from) => parseKeySet(body, resource.held()?.value, settings, loggableUrl(from)),
      storeKey: `tokengate:jwks ${uri}`,
    }),
    onFetch: (info) => validatorWatch.onFetch(info),
    onError: (err) => validatorWatch.onError(err),
  });
  const loggable = loggableUrl(url);
  const kidRefresh = kidRefreshLimiter(settings.cooldown);

  // An unknown kid may be a rotation: refresh, even while backing off after failures, but
  // within the limiter's budget, so a flood of random kids cannot turn us into an amplifier
  // against the key server. The request waits at most `maxWait`; the fetch carries on.
  async function refreshForUnknownKey(): Promise<string> {
    if (settings.events.active()) settings.events.emit({ type: 'kid.miss', uri: loggable });
    if (!resource.fetching) {
      const entry = resource.held();
      const validators = entry?.etag !== undefined || entry?.lastModified !== undefined;
      if (!kidRefresh.tryAcquire(settings.now(), validators && !validatorWatch.ignored())) {
        if (settings.events.active()) settings.events.emit({ type: 'cooldown.hit', uri: loggable });
        return 'no key has this "kid"; a refresh is cooling down';
      }
      validatorWatch.forced(validators);
    }
    // Joins the fetch in flight, if any. A failure is logged already; the old set still holds.
    const before = resource.held();
    const outcome = await waitAtMost(
      resource.fetchNow('forced').catch(() => undefined),
      settings.maxWait,
    );
    if (timedOut(outcome))
      return 'no key has this "kid" yet; the key server is slow, still fetching';
    // In a fleet, the same set back means the fleet-wide budget of this cooldown is spent.
    if (outcome !== undefined && outcome === before) {
      if (settings.events.active()) settings.events.emit({ type: 'cooldown.hit', uri: loggable });
      return 'no key has this "kid"; a refresh is cooling down (fleet-wide)';
    }
    return 'no key in the key set has this "kid"';
  }

  // Synchronous while the set is servable and holds the key: the common case awaits nothing.
  function getKeys(
    selector: KeySelector,
  ): readonly VerificationKey[] | Promise<readonly VerificationKey[]> {
    const entry = resource.servableNow();
    const found = entry && selectKeys(entry.value.byKid, entry.value.keys, selector);
    return found?.length ? found : getKeysSlowly(selector);
  }

  async function getKeysSlowly(selector: KeySelector): Promise<readonly VerificationKey[]> {
    const before = resource.held();
    const entry = await resource.whenServable();
    const found = selectKeys(entry.value.byKid, entry.value.keys, selector);
    if (found.length > 0) return found;
    // This call already waited for a fetch (cold start): another would tell us nothing new.
    const reason =
      entry === before ? await refreshForUnknownKey() : 'no key in the key set has this "kid"';
    const set = resource.unexpired()?.value;
    const again = set ? selectKeys(set.byKid, set.keys, selector) : [];
    if (again.length > 0) return again;
    throw new VerificationError('kid_unknown', { reason });
  }

  return {
    uri,
    getKeys,
    async getKey(selector) {
      const keys = await getKeys(selector);
      if (keys.length > 1) {
        throw new VerificationError('kid_unknown', {
          reason: 'several keys fit and none was chosen',
        });
      }
      return keys[0]!;
    },
    isPublished(key) {
      // The token cache asks on every hit; when only cached tokens arrive, this is what
      // notices that the set went stale, so a removed key still stops verifying.
      resource.revalidateIfStale();
      return resource.held()?.value.published.has(key) ?? false;
    },
    async refresh() {
      await resource.revalidateNow();
    },
    status: () => statusOf(resource, url, settings),
  };
}

/** Refreshes an unknown `kid` may force per cooldown: the first one and this many minus one. */
export const KID_REFRESHES_PER_COOLDOWN = 15;

/**
 * The flood bound for refreshes forced by unknown `kid`s. Within any `cooldown`: at most one
 * refresh that may be a full download, and further ones only when they are conditional (the
 * cache holds an ETag or Last-Modified, so an unchanged set answers 304), each at least
 * `cooldown / KID_REFRESHES_PER_COOLDOWN` after the previous one. So at most
 * `KID_REFRESHES_PER_COOLDOWN` requests per cooldown, and a new key is seen within seconds.
 */
export function kidRefreshLimiter(cooldown: number): {
  tryAcquire(now: number, conditional: boolean): boolean;
} {
  const spacing = cooldown / KID_REFRESHES_PER_COOLDOWN;
  let windowStart = -Infinity;
  let last = -Infinity;
  return {
    tryAcquire(now, conditional) {
      if (now < last + spacing) return false;
      if (now >= windowStart + cooldown) windowStart = now;
      else if (!conditional) return false;
      last = now;
      return true;
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Keys are imported once per set version; a key whose JWK text is unchanged keeps its object,
// so tokens it verified stay cached across a rotation of other keys.
function parseKeySet(
  body: unknown,
  previous: KeySet | undefined,
  settings: RemoteSettings,
  uri: string,
): KeySet {
  if (!isObject(body) || !Array.isArray(body.keys)) {
    throw new Error('not a JSON object with a "keys" array');
  }
  const keys: VerificationKey[] = [];
  const byJson = new Map<string, VerificationKey>();
  const skipped: { kid?: string; reason: string }[] = [];
  const leaked: { kid?: string; reason: string }[] = [];
  for (const [index, jwk] of body.keys.entries()) {
    const kid = logSafe(isObject(jwk) ? jwk.kid : undefined);
    if (index >= settings.maxKeys) {
      skipped.push({ reason: `more than ${settings.maxKeys} keys`, ...(kid ? { kid } : {}) });
      continue;
    }
    // A private or secret key in a public set: whoever fetched the set can sign with it. Never
    // used, whatever its `use`, and reported on its own: the issuer has a key to revoke.
    const secret = isObject(jwk) ? privateMaterialOf(jwk) : undefined;
    if (secret !== undefined) {
      leaked.push({ reason: secret, ...(kid ? { kid } : {}) });
      continue;
    }
    // Encryption keys share JWKS documents with signing keys; they are not an error.
    if (isObject(jwk) && jwk.use !== undefined && jwk.use !== 'sig') continue;
    const json = JSON.stringify(jwk);
    if (byJson.has(json)) continue;
    let key = previous?.byJson.get(json);
    if (!key) {
      try {
        key = importVerificationKey(jwk);
      } catch (err) {
        skipped.push({
          reason: err instanceof KeyRejected ? err.message : 'invalid key',
          ...(kid ? { kid } : {}),
        });
        continue;
      }
    }
    byJson.set(json, key);
    keys.push(key);
  }
  if (skipped.length > 0) {
    try {
      settings.logger.warn(
        { event: 'jwks_keys_skipped', uri, skipped: skipped.length, keys: skipped.slice(0, 10) },
        'key server published keys that cannot verify signatures',
      );
    } catch {
      // A failing log transport must not make a usable key set unusable.
    }
  }
  for (const key of leaked) {
    try {
      settings.logger.error(
        { event: 'jwks_key_skipped', uri, ...key },
        'key server published a private or secret key: it is never used',
      );
    } catch {
      // A failing log transport must not make a usable key set unusable.
    }
  }
  if (keys.length === 0) throw new Error('no usable signature keys in the set');
  return { keys, byKid: indexByKid(keys), published: new Set(keys), byJson };
}
