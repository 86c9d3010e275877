// The URL a request was made to (RFC 9110 §7.1), rebuilt from parts checked first. DPoP's `htu`
// is compared with it, so the Host header and the request target are attacker input here: a
// Host of `api.example?` would otherwise turn every path into `http://api.example/`.
import { VerificationError } from '../errors.js';
import { countHeaders } from './credentials.js';
import type { CredentialSource, PeerSocket } from './credentials.js';

function invalid(reason: string): VerificationError {
  return new VerificationError('request_invalid', { reason });
}

// RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ), non-empty for http(s)
// (RFC 9110 §4.2.1); IPv4address is a reg-name by this grammar too. IP-literal: bracketed IPv6
// only (no IPvFuture, no zone). RFC 3986 §3.2.3: port = *DIGIT, here 1 to 5 digits.
const REG_NAME = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/;
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]+\]$/;
const PORT = /^[0-9]{1,5}$/;

/**
 * The host and port of a `Host` field value or a URI authority, in the form RFC 9110 §7.2 allows
 * (`uri-host [ ":" port ]`), normalised by the WHATWG URL parser (lower case, default port
 * dropped for `scheme`). Undefined for anything else: userinfo, a path, `?`, `#`, spaces, an
 * empty host, a port that is not digits.
 */
export function parseAuthority(value: string, scheme: 'http' | 'https'): string | undefined {
  let host = value;
  let port: string | undefined;
  const colon = value.lastIndexOf(':');
  if (colon >= 0 && !value.endsWith(']')) {
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
    if (!PORT.test(port) || Number(port) > 65535) return undefined;
  }
  const literal = IPV6_LITERAL.test(host);
  if (!literal && !REG_NAME.test(host)) return undefined;
  let url: URL;
  try {
    // Refuses what the grammar lets through but no URL holds: "999.1.1.1", "%2F", a bad IPv6.
    url = new URL(`${scheme}://${value}/`);
  } catch {
    return undefined;
  }
  // One spelling per host: the URL parser would read "0x7f.1" or "127.1" as 127.0.0.1 and
  // decode "%61pi.test" to "api.test", while a router or a proxy may not.
  if (!literal && url.hostname !== host.toLowerCase()) return undefined;
  return url.host;
}

// RFC 3986 §3.1: scheme ":" then, for http(s), "//" authority (RFC 9110 §4.2.1-4.2.2).
const ABSOLUTE_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;

/** A request target split into what the URL and the log need. */
export interface RequestTarget {
  /** The scheme (lower case; `http` or `https` once checked) and authority of an absolute form. */
  absolute: { scheme: string; authority: string } | undefined;
  /** The path and query (`/orders?page=2`); `/` when an absolute-form target has no path. */
  pathAndQuery: string;
}

// The two forms a request target to a resource takes, or undefined for any other (`*`, an
// authority alone, garbage). Nothing is checked here but the shape.
function splitTarget(target: string): RequestTarget | undefined {
  if (target.startsWith('/')) return { absolute: undefined, pathAndQuery: target };
  const match = ABSOLUTE_FORM.exec(target);
  if (!match) return undefined;
  const [, scheme, authority, rest] = match as unknown as [string, string, string, string];
  return {
    absolute: { scheme: scheme.toLowerCase(), authority },
    pathAndQuery: rest.startsWith('/') ? rest : `/${rest}`,
  };
}

/**
 * Splits a request target (RFC 9112 §3.2): origin-form (`/orders?x=1`) or absolute-form
 * (`http://api.example/orders`). Any other form, a scheme other than http(s), or userinfo
 * (RFC 9110 §4.2.4: a recipient should treat it as an error) is `request_invalid`.
 */
export function parseTarget(target: string): RequestTarget {
  const parts = splitTarget(target);
  const scheme = parts?.absolute?.scheme;
  if (!parts || (scheme !== undefined && scheme !== 'http' && scheme !== 'https')) {
    throw invalid('request target is neither a path nor an http(s) URL');
  }
  if (parts.absolute?.authority.includes('@')) throw invalid('request target carries userinfo');
  return parts;
}

/**
 * The path of a request target for a log record: no scheme, no authority (so no userinfo), no
 * query (it may carry `access_token=…`), no fragment. Never throws: `?` when there is no path.
 */
export function targetPath(target: string): string {
  const parts = typeof target === 'string' ? splitTarget(target) : undefined;
  return parts ? parts.pathAndQuery.split(/[?#]/, 1)[0]! : '?';
}

/** Where the URL comes from besides the request: the `dpop` options `origin` and `url`. */
export interface UrlSettings<Req> {
  /** `https://api.example.com`, already validated (no path): replaces scheme and host. */
  origin?: string | undefined;
  /** Builds the whole URL (proxies `origin` cannot describe); the request is still checked. */
  url?: ((req: Req) => string) | undefined;
}

/**
 * The URL the client called, built once from checked parts (RFC 9110 §7.1, RFC 9112 §3.3):
 *
 * - exactly one `Host` (or HTTP/2 `:authority`), in the form `host[:port]`; when both are sent
 *   they must name the same authority (RFC 9113 §8.3.1);
 * - an absolute-form target is the URL itself; its authority must match `Host` (RFC 9112 §3.2
 *   requires the client to send them identical), and, without `origin`, its scheme must be the
 *   connection's;
 * - otherwise `http`/`https` from the socket, the `Host`, and the path and query as received.
 *
 * With `origin`, the origin is configuration and only the path and query come from the target;
 * with `url`, the caller builds the URL once the request passed these checks. Every problem is
 * `request_invalid` (400): it is the request that is malformed, not the proof.
 */
export function requestUrl<Req>(
  req: Req,
  raw: CredentialSource,
  target: string,
  settings: UrlSettings<Req>,
): string {
  const scheme = (raw.socket as PeerSocket | null | undefined)?.encrypted ? 'https' : 'http';
  const parts = parseTarget(target);
  const hostValue = raw.headers.host;
  const authorityValue = raw.headers[':authority'];
  if (
    Array.isArray(hostValue) ||
    countHeaders(raw.rawHeaders, 'host') > 1 ||
    Array.isArray(authorityValue)
  ) {
    throw invalid('several Host headers');
  }
  if (hostValue === undefined && authorityValue === undefined) throw invalid('request has no Host');
  const urlScheme = (parts.absolute?.scheme ?? scheme) as 'http' | 'https';
  const host = hostValue === undefined ? undefined : parseAuthority(hostValue, urlScheme);
  const authority =
    typeof authorityValue === 'string' ? parseAuthority(authorityValue, urlScheme) : undefined;
  if (
    (hostValue !== undefined && host === undefined) ||
    (authorityValue !== undefined && authority === undefined)
  ) {
    throw invalid('Host is not host[:port]');
  }
  if (host !== undefined && authority !== undefined && host !== authority) {
    throw invalid('Host does not match :authority');
  }
  const named = (host ?? authority)!;
  if (parts.absolute) {
    const { scheme: targetScheme, authority: targetAuthority } = parts.absolute;
    const fromTarget = parseAuthority(targetAuthority, targetScheme as 'http' | 'https');
    if (fromTarget === undefined) throw invalid('request target authority is not host[:port]');
    if (fromTarget !== named) throw invalid('Host does not match the request target');
    // The connection is where the scheme comes from unless the configuration says otherwise.
    if (!settings.origin && !settings.url && targetScheme !== scheme) {
      throw invalid('request target scheme does not match the connection');
    }
  }
  if (settings.url) return settings.url(req);
  if (settings.origin !== undefined) return settings.origin + parts.pathAndQuery;
  return `${urlScheme}://${named}${parts.pathAndQuery}`;
}
