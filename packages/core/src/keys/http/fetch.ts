// The only place the key sources touch the network: one bounded GET of a JSON document.
import { createHash } from 'node:crypto';
import { MAX_JSON_DEPTH, jsonStructureProblem } from '../../lib/json.js';

/** Why a fetch failed. The message is safe to log: no URL query, no body, no credentials. */
export class FetchFailed extends Error {
  override readonly name = 'FetchFailed';
  /** HTTP status when the server answered with an unusable one. */
  readonly status: number | undefined;

  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.status = options.status;
  }
}

/** Limits for one fetch. */
export interface FetchLimits {
  /** Covers connecting, the headers and the whole body. */
  timeoutMs: number;
  /** The body is abandoned as soon as it grows past this. */
  maxBodyBytes: number;
  /** Same-origin redirects followed; another origin is always refused. */
  maxRedirects: number;
}

/** A usable answer: `200` with a parsed JSON body, or `304`. */
export interface FetchedJson {
  status: 200 | 304;
  /** The URL that answered (after same-origin redirects). */
  url: URL;
  headers: Headers;
  /** The parsed body (200 only). */
  body: unknown;
  /** SHA-256 of the body bytes (200 only): the same bytes are parsed and imported only once. */
  digest: string | undefined;
}

/** True for hosts on this machine: 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

/**
 * Checks a key-server URL and returns it parsed, or the reason it is refused: `https:` only
 * (plain `http:` on loopback, or with `allowInsecureHttp`), and no credentials in it.
 */
export function checkKeyServerUrl(
  uri: string,
  allowInsecureHttp: boolean,
): { url: URL } | { problem: string } {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { problem: 'is not an absolute URL' };
  }
  if (url.username || url.password) return { problem: 'must not contain credentials' };
  if (url.protocol === 'https:') return { url };
  if (url.protocol === 'http:' && (allowInsecureHttp || isLoopbackHost(url.hostname))) {
    return { url };
  }
  return { problem: 'must use https: (http: only for loopback hosts or with allowInsecureHttp)' };
}

/** The URL as it may appear in a log line: origin and path, never the query string. */
export function loggableUrl(url: URL): string {
  return url.origin + url.pathname;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Sent on every key-server request. `max-age=0` (RFC 9111 §5.2.1.1) makes caches on the way
 * revalidate and still lets the origin answer 304. Without it, fetch turns a request carrying
 * If-None-Match / If-Modified-Since into cache mode "no-store" (Fetch §4.5, HTTP-network-or-cache
 * fetch) and adds `Cache-Control: no-cache` + `Pragma: no-cache`, which the `fresh` module behind
 * Express, `express.static` and Koa answers with a full 200, never a 304.
 */
const REVALIDATE = { 'cache-control': 'max-age=0' } as const;

/**
 * GETs a JSON document with `redirect: 'manual'`, following at most `maxRedirects` same-origin
 * redirects. One timer covers the whole exchange, so a server that trickles bytes times out,
 * and the body is read as a stream and abandoned past `maxBodyBytes`. Rejects with FetchFailed.
 */
export async function fetchJson(
  start: URL,
  requestHeaders: Record<string, string>,
  limits: FetchLimits,
): Promise<FetchedJson> {
  const controller = new AbortController();
  const timeout = new FetchFailed(`timed out after ${limits.timeoutMs} ms`);
  const timer = setTimeout(() => controller.abort(timeout), limits.timeoutMs);
  timer.unref?.();
  let url = start;
  try {
    for (let hop = 0; ; hop++) {
      const init: RequestInit & { cache: 'no-cache' } = {
        headers: {
          accept: 'application/json, application/jwk-set+json',
          ...requestHeaders,
          ...REVALIDATE,
        },
        // Cache mode "no-cache" (Fetch §4.5) adds no `Pragma: no-cache` (@types/node 20 lacks it).
        cache: 'no-cache',
        redirect: 'manual',
        signal: controller.signal,
      };
      const res = await fetch(url, init);
      if (REDIRECTS.has(res.status)) {
        await res.body?.cancel().catch(() => {});
        const location = res.headers.get('location');
        const next = location === null ? undefined : safeUrl(location, url);
        if (next === undefined || next.origin !== url.origin) {
          throw new FetchFailed('redirect to another origin refused', { status: res.status });
        }
        if (hop >= limits.maxRedirects) throw new FetchFailed('too many redirects');
        url = next;
        continue;
      }
      if (res.status === 304) {
        await res.body?.cancel().catch(() => {});
        return { status: 304, url, headers: res.headers, body: undefined, digest: undefined };
      }
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        throw new FetchFailed(`unexpected HTTP status ${res.status}`, { status: res.status });
      }
      const bytes = await readBounded(res, limits.maxBodyBytes, controller);
      let body: unknown;
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        body = JSON.parse(text);
      } catch (cause) {
        throw new FetchFailed('body is not JSON', { cause });
      }
      if (jsonStructureProblem(text, {}) === 'too deep') {
        throw new FetchFailed(`body nests deeper than ${MAX_JSON_DEPTH} levels`);
      }
      const digest = createHash('sha256').update(bytes).digest('base64url');
      return { status: 200, url, headers: res.headers, body, digest };
    }
  } catch (err) {
    if (controller.signal.aborted && controller.signal.reason === timeout) throw timeout;
    if (err instanceof FetchFailed) throw err;
    throw new FetchFailed(`network error: ${describeCause(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

function safeUrl(location: string, base: URL): URL | undefined {
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}

async function readBounded(
  res: Response,
  maxBytes: number,
  controller: AbortController,
): Promise<Uint8Array> {
  const tooLarge = (): FetchFailed => {
    controller.abort();
    return new FetchFailed(`body larger than ${maxBytes} bytes`);
  };
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (!res.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

// undici wraps the real reason ("ECONNREFUSED", "other side closed") in `cause`.
function describeCause(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause ?? err;
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return cause instanceof Error ? cause.message.slice(0, 200) : 'unknown';
}
