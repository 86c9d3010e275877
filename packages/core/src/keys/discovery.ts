// Issuer metadata (OpenID Connect Discovery 1.0, RFC 8414) → jwks_uri → a remote JWKS.
import { VerificationError } from '../errors.js';
import type { KeySource } from './types.js';
import { checkKeyServerUrl, loggableUrl } from './http/fetch.js';
import { remoteJwksFor } from './remote-jwks.js';
import type { RemoteJwks, RemoteJwksStatus } from './remote-jwks.js';
import { documentOptions, toRemoteSettings } from './remote-options.js';
import type { RemoteJwksOptions, RemoteSettings } from './remote-options.js';
import { createCachedDocument, timedOut, waitAtMost } from './http/cached-document.js';
import type { LastError, CachedDocument, DocumentState } from './http/cached-document.js';

/** The parts of the issuer's metadata tokengate uses. */
export interface IssuerMetadata {
  /** Equal to the configured issuer, character for character. */
  readonly issuer: string;
  readonly jwksUri: string;
  /** The whole document, as published. */
  readonly document: Readonly<Record<string, unknown>>;
}

/** `status()` of a discovered key source. Times are epoch seconds. */
export interface DiscoveredJwksStatus {
  issuer: string;
  /** The metadata URL that answered last (query string removed). */
  metadataUri: string | undefined;
  jwksUri: string | undefined;
  metadata: {
    state: DocumentState;
    fetchedAt: number | undefined;
    freshUntil: number | undefined;
    fetches: number;
    notModified: number;
    failures: number;
    lastError: LastError | undefined;
  };
  /** The JWKS cache once `jwks_uri` is known. */
  jwks: RemoteJwksStatus | undefined;
}

/** A key source that finds the issuer's JWKS through its metadata. */
export interface DiscoveredJwks extends KeySource {
  readonly issuer: string;
  /** The validated metadata (fetched when not held). Rejects with `jwks_unavailable`. */
  metadata(): Promise<IssuerMetadata>;
  status(): DiscoveredJwksStatus;
}

/** Makes (or shares) the JWKS cache for a `jwks_uri`. */
export type JwksFactory = (uri: string, url: URL, settings: RemoteSettings) => RemoteJwks;

/**
 * The metadata URLs to try, in order: OpenID Connect Discovery
 * (`{issuer}/.well-known/openid-configuration`), then RFC 8414 §3, which inserts the
 * well-known segment before the issuer's path (`https://h/.well-known/oauth-authorization-server/tenant`).
 */
export function discoveryUrls(issuer: URL): URL[] {
  const path = issuer.pathname.replace(/\/+$/, '');
  return [
    new URL(`${issuer.origin}${path}/.well-known/openid-configuration`),
    new URL(`${issuer.origin}/.well-known/oauth-authorization-server${path}`),
  ];
}

/**
 * Creates a key source for an issuer: its metadata is fetched on first use (single flight,
 * cached with the same HTTP rules and stale-if-error as a JWKS), its `issuer` must equal
 * `issuer` exactly, and its `jwks_uri` is served by a remote JWKS cache. Throws a TypeError for
 * an issuer that is not an `https:` URL (loopback excepted) or has a query or fragment.
 *
 * @example
 * const keys = createDiscoveredJwks('https://login.example.com/tenant');
 * await keys.refresh();
 */
export function createDiscoveredJwks(
  issuer: string,
  options: RemoteJwksOptions = {},
): DiscoveredJwks {
  return discoveredJwksFor(issuer, toRemoteSettings(options), remoteJwksFor);
}

/** Internal: checks the issuer and builds the source from validated settings. */
export function discoveredJwksFor(
  issuer: string,
  settings: RemoteSettings,
  makeJwks: JwksFactory,
): DiscoveredJwks {
  const checked = checkKeyServerUrl(issuer, settings.allowInsecureHttp);
  if ('problem' in checked) throw new TypeError(`"issuer" ${checked.problem}`);
  // RFC 8414 §2: an issuer identifier has no query or fragment.
  if (checked.url.search || checked.url.hash || issuer.includes('#') || issuer.includes('?')) {
    throw new TypeError('"issuer" must not have a query or fragment for discovery');
  }
  const meta: CachedDocument<IssuerMetadata> = createCachedDocument<IssuerMetadata>(
    documentOptions(settings, {
      urls: discoveryUrls(checked.url),
      event: 'discovery_fetch_failed',
      parse: (body) => parseMetadata(body, issuer, settings.allowInsecureHttp),
      storeKey: `tokengate:metadata ${issuer}`,
    }),
  );
  let jwks: RemoteJwks | undefined;

  // A new jwks_uri in fresh metadata replaces the cache: keys from the old one stop verifying.
  function jwksFor(metadata: IssuerMetadata): RemoteJwks {
    if (jwks?.uri !== metadata.jwksUri) {
      jwks = makeJwks(metadata.jwksUri, new URL(metadata.jwksUri), settings);
    }
    return jwks;
  }

  const current = async (): Promise<RemoteJwks> => jwksFor((await meta.whenServable()).value);

  return {
    issuer,
    metadata: async () => (await meta.whenServable()).value,
    // One deadline across the metadata wait and the key-set wait, not `maxWait` for each.
    async getKeys(selector) {
      const keys = await waitAtMost(
        (async () => (await current()).getKeys(selector))(),
        settings.maxWait,
      );
      if (timedOut(keys)) {
        throw new VerificationError('jwks_unavailable', {
          reason: 'the key server is slow; still fetching',
        });
      }
      return keys;
    },
    isPublished(key) {
      meta.revalidateIfStale();
      // Metadata naming a new jwks_uri retires the old cache here too, not only on getKeys.
      const entry = meta.unexpired();
      return (entry ? jwksFor(entry.value) : jwks)?.isPublished(key) ?? false;
    },
    async refresh() {
      await jwksFor((await meta.revalidateNow()).value).refresh();
    },
    status() {
      const entry = meta.held();
      const c = meta.counters();
      return {
        issuer,
        metadataUri: entry && loggableUrl(entry.url),
        jwksUri: entry?.value.jwksUri,
        metadata: {
          state: meta.state(),
          fetchedAt: entry?.fetchedAt,
          freshUntil: entry?.freshUntil,
          fetches: c.fetches,
          notModified: c.notModified,
          failures: c.failures,
          lastError: c.lastError,
        },
        jwks: jwks?.status(),
      };
    },
  };
}

function parseMetadata(body: unknown, issuer: string, allowInsecureHttp: boolean): IssuerMetadata {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new Error('metadata is not a JSON object');
  }
  const document = body as Record<string, unknown>;
  // OpenID Connect Discovery §4.3 / RFC 8414 §3.3: prevents one issuer impersonating another.
  if (document.issuer !== issuer) throw new Error('metadata "issuer" does not match');
  if (typeof document.jwks_uri !== 'string') throw new Error('metadata has no "jwks_uri"');
  const checked = checkKeyServerUrl(document.jwks_uri, allowInsecureHttp);
  if ('problem' in checked) throw new Error(`metadata "jwks_uri" ${checked.problem}`);
  return Object.freeze({ issuer, jwksUri: document.jwks_uri, document: Object.freeze(document) });
}
