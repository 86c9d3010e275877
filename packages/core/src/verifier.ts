import { checkIdentity, checkTimes, checkTyp, readTimeClaims } from './claims.js';
import { createDecryptor } from './decrypt.js';
import { VerificationError, fromJoseError } from './errors.js';
import type { TokenDetails } from './errors.js';
import { createLocalKeySet } from './keys/local.js';
import { isSymmetricAlg } from './keys/jwk.js';
import { createRemoteJwks } from './keys/remote-jwks.js';
import { normalizeOptions, normalizeTyp } from './options.js';
import type { NormalizedOptions, VerifierOptions } from './options.js';
import { verifySignature } from './signature.js';
import { parseJsonObject, parsePayload, parseToken } from './token.js';
import type { ParsedJws } from './token.js';
import { createTokenCache } from './token-cache.js';
import type {
  KeySource,
  TokenHeader,
  TokenPayload,
  VerificationKey,
  VerifiedToken,
  Verifier,
} from './types.js';

function createKeySource(options: VerifierOptions, o: NormalizedOptions): KeySource {
  if (options.keySource) return options.keySource;
  if (options.keys) {
    return createLocalKeySet(options.keys, {
      allowSymmetric: [...o.algorithms].some(isSymmetricAlg),
    });
  }
  const remote = { ...options.jwks, now: o.now, ...(options.logger && { logger: options.logger }) };
  if (options.jwksUri !== undefined) return createRemoteJwks(options.jwksUri, remote);
  throw new TypeError('discovery is not available');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Creates a verifier for one issuer policy. Every configuration mistake throws a TypeError here.
 *
 * @example
 * const verifier = createVerifier({
 *   issuer: 'https://issuer.example.com/',
 *   audience: 'api://orders',
 *   jwksUri: 'https://issuer.example.com/.well-known/jwks.json',
 * });
 * const { payload } = await verifier.verify(token);
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const o = normalizeOptions(options);
  const keys = createKeySource(options, o);
  const decrypt = o.decryption && createDecryptor(o.decryption);
  const cache = o.tokenCache ? createTokenCache(o.tokenCache) : undefined;

  function cached(token: string): VerifiedToken | undefined {
    const entry = cache?.get(token);
    if (!entry) return undefined;
    try {
      checkTimes(entry.times, o.now(), o);
      if (entry.key && !keys.isPublished(entry.key)) {
        throw new VerificationError('kid_unknown', { reason: 'key no longer published' });
      }
    } catch (err) {
      cache!.delete(token);
      const { header, payload } = entry.result;
      (err as VerificationError).details = { kid: header.kid, alg: header.alg, iss: payload.iss };
      throw err;
    }
    return entry.result;
  }

  /** Opens a JWE: the inner compact JWS, or (only when allowed) its unsigned claims. */
  async function open(
    token: string,
    header: TokenHeader,
    details: TokenDetails,
  ): Promise<
    { jws: ParsedJws; encryption: TokenHeader } | { claims: TokenPayload; encryption: TokenHeader }
  > {
    if (!decrypt) {
      throw new VerificationError('decryption_failed', { reason: 'no decryption keys configured' });
    }
    const { plaintext, header: encryption } = await decrypt(token, header);
    const cty = encryption.cty === undefined ? undefined : normalizeTyp(encryption.cty);
    let text: string;
    try {
      text = utf8.decode(plaintext);
    } catch {
      throw new VerificationError('token_malformed', { reason: 'plaintext is not UTF-8' });
    }
    if (cty === 'jwt' || COMPACT_JWS.test(text)) {
      const inner = parseToken(text, o.maxTokenLength, details);
      if (inner.kind !== 'jws') {
        throw new VerificationError('token_malformed', { reason: 'nested token is not a JWS' });
      }
      return { jws: inner, encryption };
    }
    if (!o.decryption!.allowUnsignedClaims) {
      // An encrypted token proves nothing about its author: anyone can encrypt to us.
      throw new VerificationError('token_malformed', { reason: 'encrypted token is not signed' });
    }
    return { claims: parseJsonObject(plaintext, 'plaintext') as TokenPayload, encryption };
  }

  async function checkSignature(jws: ParsedJws): Promise<VerificationKey> {
    const alg = jws.header.alg;
    if (!o.algorithms.has(alg)) throw new VerificationError('alg_not_allowed');
    const candidates = await keys.getKeys({ kid: jws.header.kid, alg });
    for (const key of candidates) {
      if (verifySignature(alg, key, jws.signingInput, jws.signature)) return key;
    }
    throw new VerificationError('signature_invalid');
  }

  async function verifyUncached(token: string, details: TokenDetails): Promise<VerifiedToken> {
    const parsed = parseToken(token, o.maxTokenLength, details);
    let jws: ParsedJws | undefined;
    let payload: TokenPayload;
    let encryption: TokenHeader | undefined;
    let key: VerificationKey | undefined;
    if (parsed.kind === 'jwe') {
      const opened = await open(token, parsed.header, details);
      encryption = opened.encryption;
      if ('jws' in opened) jws = opened.jws;
      else payload = opened.claims;
    } else {
      if (o.requireEncryption) throw new VerificationError('encryption_required');
      jws = parsed;
    }
    if (jws) {
      key = await checkSignature(jws);
      payload = parsePayload(jws);
    }
    details.iss = payload!.iss;
    const header = jws ? jws.header : encryption!;
    checkTyp(header, o);
    const times = readTimeClaims(payload!);
    checkTimes(times, o.now(), o);
    checkIdentity(payload!, o);
    const result: VerifiedToken = deepFreeze({
      payload: payload!,
      header,
      ...(encryption && { encryption }),
      token,
    });
    cache?.set(token, { result, times, key });
    return result;
  }

  return {
    cached,
    async verify(token) {
      const details: TokenDetails = {};
      try {
        return cached(token) ?? (await verifyUncached(token, details));
      } catch (err) {
        const failure = fromJoseError(err, 'token_malformed');
        failure.details ??= details;
        throw failure;
      }
    },
    ready: () => keys.refresh(),
  };
}
