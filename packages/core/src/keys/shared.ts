// Process-wide registries: verifiers that name the same JWKS (or issuer) share one cache, so a
// multi-issuer or multi-route set-up makes one request per key server, not one per verifier.
import { LRUCache } from 'lru-cache';
import type { Clock } from '../config/clock.js';
import { discoveredJwksFor } from './discovery.js';
import type { DiscoveredJwks } from './discovery.js';
import { checkKeyServerUrl } from './http/fetch.js';
import { remoteJwksFor } from './remote-jwks.js';
import type { RemoteJwks, RemoteJwksOptions } from './remote-jwks.js';
import { toRemoteSettings } from './remote-options.js';
import type { RemoteSettings } from './remote-options.js';
import { createEmitter } from '../telemetry/events.js';
import type { EventSink } from '../telemetry/events.js';
import type { Logger } from '../telemetry/log.js';

/** How many key servers (and issuers) the registries remember. */
export const SHARED_MAX = 100;

const jwksRegistry = new LRUCache<string, RemoteJwks>({ max: SHARED_MAX });
const discoveryRegistry = new LRUCache<string, DiscoveredJwks>({ max: SHARED_MAX });

// Caches run on different clocks (a test's fake clock, the system clock) must not be shared.
const clockIds = new WeakMap<Clock, number>();
let nextClockId = 0;
function clockId(clock: Clock): number {
  let id = clockIds.get(clock);
  if (id === undefined) clockIds.set(clock, (id = nextClockId++));
  return id;
}

/** Every caller's hooks, so each verifier sharing a cache still hears its fetches and events. */
interface Listeners {
  onFetch: Set<NonNullable<RemoteSettings['onFetch']>>;
  onError: Set<NonNullable<RemoteSettings['onError']>>;
  onEvent: Set<EventSink>;
  /** Each sharer's logger (`false` is the silent one): a record goes once to each distinct one. */
  logger: Set<Logger>;
}
const listeners = new WeakMap<RemoteJwks, Listeners>();

function fanOut(base: RemoteSettings): { settings: RemoteSettings; hooks: Listeners } {
  const hooks: Listeners = {
    onFetch: new Set(),
    onError: new Set(),
    onEvent: new Set(),
    logger: new Set(),
  };
  const channelOnly = createEmitter(undefined);
  const each = <A>(fns: Set<(arg: A) => void>, arg: A) => {
    for (const fn of fns) {
      try {
        fn(arg);
      } catch {
        // One caller's faulty hook must not keep the others from hearing.
      }
    }
  };
  const log =
    (level: 'warn' | 'error' | 'info') =>
    (obj: object, msg?: string): void => {
      for (const logger of hooks.logger) {
        try {
          logger[level]?.(obj, msg);
        } catch {
          // One caller's failing transport must not keep the others from logging.
        }
      }
    };
  const settings: RemoteSettings = {
    ...base,
    logger: { warn: log('warn'), error: log('error'), info: log('info') },
    onFetch: (info) => each(hooks.onFetch, info),
    onError: (err) => each(hooks.onError, err),
    events: {
      active: () => hooks.onEvent.size > 0 || channelOnly.active(),
      emit: (event) => {
        each(hooks.onEvent, event);
        channelOnly.emit(event);
      },
    },
  };
  return { settings, hooks };
}

function listen(jwks: RemoteJwks, settings: RemoteSettings): void {
  const hooks = listeners.get(jwks);
  if (!hooks) return;
  if (settings.onFetch) hooks.onFetch.add(settings.onFetch);
  if (settings.onError) hooks.onError.add(settings.onError);
  if (settings.onEvent) hooks.onEvent.add(settings.onEvent);
  hooks.logger.add(settings.logger);
}

function sharedFor(uri: string, url: URL, base: RemoteSettings): RemoteJwks {
  const key = `${clockId(base.now)} ${url.href}`;
  let jwks = jwksRegistry.get(key);
  if (!jwks) {
    const { settings, hooks } = fanOut(base);
    jwksRegistry.set(key, (jwks = remoteJwksFor(uri, url, settings)));
    listeners.set(jwks, hooks);
  }
  listen(jwks, base);
  return jwks;
}

/**
 * Like `createRemoteJwks`, but returns the cache already made for this URL and clock when
 * there is one. The URL is checked against the caller's `allowInsecureHttp`; every caller's
 * `logger`, `onFetch`, `onError` and `onEvent` hear the cache (each distinct one once); the other
 * options (limits, TTLs) are those of the first caller. At most SHARED_MAX caches are
 * kept (least recently used dropped; a verifier keeps its own reference).
 */
export function sharedRemoteJwks(uri: string, options: RemoteJwksOptions = {}): RemoteJwks {
  const settings = toRemoteSettings(options);
  const checked = checkKeyServerUrl(uri, settings.allowInsecureHttp);
  if ('problem' in checked) throw new TypeError(`"jwksUri" ${checked.problem}`);
  return sharedFor(uri, checked.url, settings);
}

/**
 * Like `createDiscoveredJwks`, but shared per issuer (exact string) and clock; its JWKS cache is
 * shared with `sharedRemoteJwks` for the same `jwks_uri`. First caller's options win.
 */
export function sharedDiscoveredJwks(
  issuer: string,
  options: RemoteJwksOptions = {},
): DiscoveredJwks {
  const settings = toRemoteSettings(options);
  const key = `${clockId(settings.now)} ${issuer}`;
  let source = discoveryRegistry.get(key);
  if (!source) {
    source = discoveredJwksFor(issuer, settings, sharedFor);
    discoveryRegistry.set(key, source);
  } else {
    // Checked again so this caller's own http policy applies.
    const checked = checkKeyServerUrl(issuer, settings.allowInsecureHttp);
    if ('problem' in checked) throw new TypeError(`"issuer" ${checked.problem}`);
  }
  return source;
}
