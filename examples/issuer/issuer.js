// The issuer A and its key server K in one small Express app.
//
// K: GET /.well-known/jwks.json served as most Node key servers are, with Express `res.json`:
//    Express's own weak ETag and its own 304 on If-None-Match (the `fresh` module), plus
//    Cache-Control: max-age
//    GET /.well-known/openid-configuration
// A: POST /token   { sub, scope, aud, expiresIn, nested, encryptTo } -> { access_token, … }
//    POST /rotate  publish a new key and sign with it; the old one stays published
//    POST /retire  { force } remove keys that no longer sign, once their tokens have expired
//    POST /keyserver { available } take K down (503) or up, to see receivers ride on cached keys
//
// A demo, not an authorization server: anyone who can reach it can mint tokens, so it listens
// on 127.0.0.1 unless told otherwise.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import { CompactEncrypt, SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';

/** @typedef {import('jose').JWK} Jwk */
/** @typedef {{ jwk: Jwk, lastExp: number }} StoredKey  lastExp: latest `exp` signed with it */
/**
 * @typedef {object} RequestRecord  One line of K's request log.
 * @property {number} at epoch seconds (issuer clock)
 * @property {string} method
 * @property {string} path
 * @property {string | undefined} ifNoneMatch the conditional-request header K received
 * @property {number} status
 * @property {string | undefined} etag
 */
/**
 * @typedef {object} MintOptions
 * @property {string} [sub] default 'alice'
 * @property {string} [scope] space-delimited, default 'orders:read'
 * @property {string | string[]} aud
 * @property {number} [expiresIn] seconds from now, default 300
 * @property {boolean} [nested] sign, then encrypt to `encryptTo` (default: true when encryptTo is set)
 * @property {Jwk} [encryptTo] the receiver's public encryption JWK
 * @property {Record<string, unknown>} [claims] extra claims
 */

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];
const KEY_ENCRYPTION = { RSA: 'RSA-OAEP-256', EC: 'ECDH-ES+A256KW', OKP: 'ECDH-ES+A256KW' };

/** @param {Jwk} jwk */
function publicJwk(jwk) {
  return Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_MEMBERS.includes(k)));
}

/**
 * Starts A and K on one port.
 *
 * @param {object} [options]
 * @param {number} [options.port] default 0 (any free port)
 * @param {string} [options.host] default '127.0.0.1'
 * @param {'ES256' | 'RS256'} [options.alg] signing algorithm, default 'ES256'
 * @param {string} [options.keysDir] load keys from here (and save rotations); default: in memory
 * @param {number} [options.maxAge] JWKS Cache-Control max-age in seconds, default 300
 * @param {() => number} [options.now] clock in epoch seconds, default the system clock
 *
 * @example
 * const issuer = await startIssuer();
 * const { token } = await issuer.mint({ aud: 'api://orders', scope: 'orders:read', encryptTo });
 * await issuer.close();
 */
export async function startIssuer(options = {}) {
  const { port = 0, host = '127.0.0.1', alg = 'ES256', keysDir, maxAge = 300 } = options;
  const now = () => Math.floor((options.now ?? (() => Date.now() / 1000))());
  if (alg !== 'ES256' && alg !== 'RS256') throw new TypeError('"alg" must be ES256 or RS256');

  /** @type {StoredKey[]} */ let keys = [];
  let signingKid = '';
  /** @type {Map<string, CryptoKey | Uint8Array>} */ const signers = new Map();
  /** @type {RequestRecord[]} */ const requests = [];
  let available = true;
  /** The published set, and the ETag Express last sent for it ('' until K has served it). */
  let jwks = { set: /** @type {{ keys: Jwk[] }} */ ({ keys: [] }), etag: '' };

  const file = keysDir && join(keysDir, 'keys.json');
  if (file) {
    try {
      ({ keys, signingKid } = JSON.parse(await readFile(file, 'utf8')));
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'ENOENT') throw err;
    }
  }
  for (const { jwk } of keys) signers.set(String(jwk.kid), await importJWK(jwk, jwk.alg));
  if (!keys.some((k) => k.jwk.kid === signingKid)) await addKey();
  else publish();

  // Dated kids say when a key was made: 2026-11-29-a, then 2026-11-29-b on the same day.
  function nextKid() {
    const day = new Date(now() * 1000).toISOString().slice(0, 10);
    const taken = new Set(keys.map((k) => k.jwk.kid));
    for (let i = 0; ; i++) {
      const kid = `${day}-${i < 26 ? String.fromCharCode(97 + i) : `k${i}`}`;
      if (!taken.has(kid)) return kid;
    }
  }

  async function addKey() {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: nextKid(), alg, use: 'sig' };
    keys.push({ jwk, lastExp: 0 });
    signers.set(jwk.kid, privateKey);
    signingKid = jwk.kid;
    publish();
    await save();
    return jwk.kid;
  }

  function publish() {
    jwks = { set: { keys: keys.map((k) => publicJwk(k.jwk)) }, etag: '' };
  }

  async function save() {
    if (!file || !keysDir) return;
    await mkdir(keysDir, { recursive: true, mode: 0o700 });
    await writeFile(file, JSON.stringify({ signingKid, keys }, null, 2), { mode: 0o600 });
  }

  /**
   * Mints an access token (RFC 9068 shape): a JWS, or nested (signed, then encrypted to the
   * receiver's public key with `cty: "JWT"`).
   * @param {MintOptions} o
   */
  async function mint(o) {
    if (!o || !o.aud) throw new TypeError('"aud" is required');
    const iat = now();
    const exp = iat + (o.expiresIn ?? 300);
    const key = /** @type {StoredKey} */ (keys.find((k) => k.jwk.kid === signingKid));
    key.lastExp = Math.max(key.lastExp, exp);
    await save(); // retire() must know about this token even after a restart
    const jws = await new SignJWT({
      scope: o.scope ?? 'orders:read',
      client_id: 'demo',
      ...o.claims,
    })
      .setProtectedHeader({ alg: String(key.jwk.alg), kid: signingKid, typ: 'at+jwt' })
      .setIssuer(url)
      .setSubject(o.sub ?? 'alice')
      .setAudience(o.aud)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(/** @type {CryptoKey} */ (signers.get(signingKid)));
    const nested = o.nested ?? o.encryptTo !== undefined;
    if (!nested) return { token: jws, kid: signingKid, exp, nested };
    const to = o.encryptTo;
    if (!to || typeof to !== 'object')
      throw new TypeError('"encryptTo" (a public JWK) is required');
    if ('d' in to) throw new TypeError('"encryptTo" must be a public key');
    const keyAlg = to.alg ?? KEY_ENCRYPTION[/** @type {'RSA'} */ (to.kty)];
    const token = await new CompactEncrypt(new TextEncoder().encode(jws))
      .setProtectedHeader({ alg: keyAlg, enc: 'A256GCM', cty: 'JWT', kid: to.kid })
      .encrypt(await importJWK(to, keyAlg));
    return { token, kid: signingKid, exp, nested };
  }

  /** Publishes a new key and signs with it from now on; the old key stays published. */
  async function rotate() {
    return { kid: await addKey(), published: keys.map((k) => k.jwk.kid) };
  }

  /**
   * Removes the keys that no longer sign once every token they signed has expired. `force`
   * removes them at once (a compromised key): their unexpired tokens are refused from then on.
   * @param {{ force?: boolean }} [o]
   */
  async function retire(o = {}) {
    const t = now();
    const old = keys.filter((k) => k.jwk.kid !== signingKid);
    const waiting = old.filter((k) => k.lastExp > t && !o.force);
    const removed = old.filter((k) => !waiting.includes(k)).map((k) => String(k.jwk.kid));
    keys = keys.filter((k) => !removed.includes(String(k.jwk.kid)));
    for (const kid of removed) signers.delete(kid);
    publish();
    await save();
    return {
      removed,
      waiting: waiting.map((k) => ({ kid: String(k.jwk.kid), until: k.lastExp })),
      published: keys.map((k) => String(k.jwk.kid)),
    };
  }

  /** @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} [body] */
  function send(res, status, body, headers = {}) {
    // K dates its answers with the issuer clock, so a receiver sharing that clock agrees on age.
    res.sendDate = false;
    res.setHeader('Date', new Date(now() * 1000).toUTCString());
    if (body !== undefined) res.setHeader('Content-Type', 'application/json');
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.statusCode = status;
    res.end(
      body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    );
  }

  /** @param {import('node:http').IncomingMessage} req */
  async function readJson(req) {
    let size = 0;
    const chunks = [];
    for await (const chunk of req) {
      size += chunk.length;
      if (size > 64 * 1024) throw new RangeError('body too large');
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? JSON.parse(text) : {};
  }

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async function route(req, res) {
    const path = new URL(req.url ?? '/', url).pathname;
    const key = `${req.method} ${path}`;
    if (key === 'GET /.well-known/openid-configuration') {
      return send(res, 200, { issuer: url, jwks_uri: `${url}/.well-known/jwks.json` });
    }
    if (req.method !== 'POST') return send(res, 404, { error: 'not_found' });
    const body = await readJson(req);
    if (path === '/token') {
      const { token, exp } = await mint(body);
      // `Accept: application/jwt` gets the bare token, handy for TOKEN=$(curl …).
      if (req.headers.accept === 'application/jwt') {
        return send(res, 200, token, { 'Content-Type': 'application/jwt' });
      }
      return send(res, 200, {
        access_token: token,
        token_type: 'Bearer',
        expires_in: exp - now(),
      });
    }
    if (path === '/rotate') return send(res, 200, await rotate());
    if (path === '/retire') {
      const result = await retire({ force: body.force === true });
      return send(res, result.waiting.length ? 409 : 200, result);
    }
    if (path === '/keyserver') {
      available = body.available !== false;
      return send(res, 200, { available });
    }
    return send(res, 404, { error: 'not_found' });
  }

  const app = express();
  app.disable('x-powered-by');
  // K: Express decides 304 or 200 itself (res.json → weak ETag → `fresh` against the request).
  app.get('/.well-known/jwks.json', (req, res) => {
    if (!available) return send(res, 503, { error: 'unavailable' }, { 'Retry-After': '30' });
    res.sendDate = false;
    res.set('Date', new Date(now() * 1000).toUTCString());
    res.set('Cache-Control', `public, max-age=${maxAge}`);
    res.json(jwks.set);
  });
  app.use((req, res) => {
    route(req, res).catch((err) => {
      const status = err instanceof TypeError || err instanceof SyntaxError ? 400 : 500;
      if (!res.headersSent) send(res, status, { error: String(err.message ?? err) });
      else res.destroy();
    });
  });

  const server = createServer((req, res) => {
    res.on('finish', () => {
      const path = new URL(req.url ?? '/', url).pathname;
      const etag = res.getHeader('etag');
      if (path === '/.well-known/jwks.json' && res.statusCode === 200 && typeof etag === 'string') {
        jwks.etag = etag;
      }
      if (requests.length >= 10_000) requests.splice(0, 1000); // bounded, for long runs
      requests.push({
        at: now(),
        method: req.method ?? '?',
        path,
        ifNoneMatch: req.headers['if-none-match'],
        status: res.statusCode,
        etag: typeof etag === 'string' ? etag : undefined,
      });
    });
    app(req, res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(undefined));
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  return {
    /** The issuer identifier (`iss`) and base URL. */
    url,
    jwksUri: `${url}/.well-known/jwks.json`,
    mint,
    rotate,
    retire,
    /** The kid new tokens are signed with. */
    get signingKid() {
      return signingKid;
    },
    /** The kids K publishes now. */
    get published() {
      return keys.map((k) => String(k.jwk.kid));
    },
    /** The ETag Express sent for the current JWKS ('' until K has served it). */
    get etag() {
      return jwks.etag;
    },
    /** K's request log, oldest first. */
    requests,
    /** @param {boolean} up false: K answers the JWKS with 503 until set back to true */
    setAvailable(up) {
      available = up;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}
