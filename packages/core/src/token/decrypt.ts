import { createPrivateKey, createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { compactDecrypt } from 'jose';
import type { JWK } from 'jose';
import { VerificationError, fromJoseError, isVerificationError } from '../errors.js';
import type { NormalizedOptions } from '../config/options.js';
import type { TokenDetails } from '../errors.js';
import { normalizeTyp } from './claims.js';
import { parseJsonObject, parseToken } from './compact.js';
import type { ParsedJws } from './compact.js';
import type { TokenHeader, TokenPayload } from './types.js';
import { FOR_JOSE, openWithNodeCrypto } from './jwe/open.js';
import { toNodeReceiverKey } from './jwe/receiver-key.js';
import type { NodeReceiverKey } from './jwe/receiver-key.js';

type DecryptionSettings = NonNullable<NormalizedOptions['decryption']>;

interface DecryptionKey {
  kid: string | undefined;
  alg: string | undefined;
  kty: string;
  crv: string | undefined;
  key: KeyObject;
  /** The same key for the node:crypto path; `undefined` leaves it to jose. */
  node: NodeReceiverKey | undefined;
}

/** How many keys a JWE without `kid` may try: each try costs a private-key operation. */
const MAX_ATTEMPTS = 3;

const DECRYPT_OPS = ['decrypt', 'unwrapKey', 'deriveKey', 'deriveBits'];

function fits(key: DecryptionKey, { alg, enc }: TokenHeader): boolean {
  // RFC 7520 §5.6: a `dir` key is the CEK itself, so its JWK `alg` may name the `enc` instead.
  const named = key.alg === alg || (alg === 'dir' && key.alg === enc);
  if (key.alg !== undefined && !named) return false;
  if (alg.startsWith('RSA-OAEP')) return key.kty === 'RSA';
  if (alg.startsWith('ECDH-ES'))
    return key.kty === 'EC' || (key.kty === 'OKP' && /^X/.test(key.crv ?? ''));
  return key.kty === 'oct'; // A*KW, A*GCMKW, dir
}

function importDecryptionKey(jwk: JWK, index: number): DecryptionKey {
  const ops = jwk.key_ops;
  if (ops !== undefined && !ops.some((op) => DECRYPT_OPS.includes(op))) {
    throw new TypeError(`"decryption.keys[${index}]" has "key_ops" that forbid decryption`);
  }
  try {
    const key =
      jwk.kty === 'oct'
        ? createSecretKey(Buffer.from(jwk.k ?? '', 'base64url'))
        : createPrivateKey({ key: jwk as never, format: 'jwk' });
    const node = toNodeReceiverKey(key);
    return { kid: jwk.kid, alg: jwk.alg, kty: jwk.kty ?? '', crv: jwk.crv, key, node };
  } catch (cause) {
    throw new TypeError(`"decryption.keys[${index}]" is not a valid private JWK`, { cause });
  }
}

/** The result of opening a JWE: its plaintext and protected header. */
export interface Decrypted {
  plaintext: Uint8Array;
  header: TokenHeader;
}

/** Opens JWE tokens with the receiver's own private keys (imported once, selected by `kid`). */
export type Decryptor = (token: string, header: TokenHeader) => Promise<Decrypted>;

/** How a decryptor opens tokens; tests compare the two. */
export interface DecryptorEngine {
  /**
   * Open with node:crypto (`token/jwe/`) whatever it covers, jose the rest. `false`: jose alone,
   * the reference the differential tests hold the node:crypto path to. Default `true`.
   */
  nodeCrypto?: boolean;
  /** Told which engine decided each key attempt (tests prove the node:crypto path is taken). */
  onAttempt?: (engine: 'node:crypto' | 'jose') => void;
}

/**
 * Builds the JWE opener. Allow-lists are checked on the untrusted header before any key
 * operation; `zip` is refused unless a decompression bound is configured; PBES2 and RSA1_5 are
 * never in the allow-list (options.ts refuses them). Private keys are imported once, here.
 */
export function createDecryptor(
  settings: DecryptionSettings,
  { nodeCrypto = true, onAttempt }: DecryptorEngine = {},
): Decryptor {
  const keys = settings.keys.map(importDecryptionKey);
  const byKid = new Map<string, DecryptionKey>();
  for (const k of keys) if (k.kid !== undefined) byKid.set(k.kid, k);
  const keyAlgs = new Set(settings.keyManagementAlgorithms);
  const encs = new Set(settings.contentEncryptionAlgorithms);
  const joseOptions = {
    keyManagementAlgorithms: [...keyAlgs],
    contentEncryptionAlgorithms: [...encs],
    maxDecompressedLength: settings.maxDecompressedBytes,
  };

  return async function decrypt(token, header) {
    if (!keyAlgs.has(header.alg))
      throw new VerificationError('alg_not_allowed', {
        reason: 'JWE "alg" is not in the allow-list',
      });
    if (header.enc === undefined || !encs.has(header.enc))
      throw new VerificationError('enc_not_allowed');
    if (header.zip !== undefined && settings.maxDecompressedBytes === 0) {
      throw new VerificationError('token_malformed', {
        reason: 'token is compressed ("zip") and decompression is off',
      });
    }
    let candidates: DecryptionKey[];
    if (header.kid !== undefined) {
      const key = byKid.get(header.kid);
      if (!key || !fits(key, header)) {
        throw new VerificationError('decryption_failed', {
          reason: 'no decryption key has this "kid"',
        });
      }
      candidates = [key];
    } else {
      candidates = keys.filter((k) => fits(k, header)).slice(0, MAX_ATTEMPTS);
      if (candidates.length === 0) {
        throw new VerificationError('decryption_failed', {
          reason: 'no decryption key fits this "alg"',
        });
      }
    }
    let last: unknown;
    for (const candidate of candidates) {
      if (nodeCrypto && candidate.node) {
        try {
          const plaintext = openWithNodeCrypto(token, header, candidate.node);
          if (plaintext !== FOR_JOSE) {
            onAttempt?.('node:crypto');
            return { plaintext, header };
          }
        } catch (err) {
          // A failed decryption is worth trying the next key, as with jose below; nothing else is.
          if (!isVerificationError(err) || err.code !== 'decryption_failed') throw err;
          onAttempt?.('node:crypto');
          last = err;
          continue;
        }
      }
      onAttempt?.('jose');
      try {
        const { plaintext, protectedHeader } = await compactDecrypt(
          token,
          candidate.key,
          joseOptions,
        );
        return { plaintext, header: protectedHeader };
      } catch (err) {
        last = err;
        const code = (err as { code?: unknown }).code;
        // Only a failed decryption is worth trying the next key; a format error is final.
        if (code !== 'ERR_JWE_DECRYPTION_FAILED') break;
      }
    }
    throw fromJoseError(last, 'decryption_failed');
  };
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export type Opened =
  { jws: ParsedJws; encryption: TokenHeader } | { claims: TokenPayload; encryption: TokenHeader };

/**
 * Opens a JWE: the inner compact JWS, or (only when some policy allows it) its bare claims. Decrypts before
 * the issuer is known (the issuer is inside); the chosen policy re-checks `alg`/`enc` after.
 */
export async function openJwe(
  decrypt: Decryptor | undefined,
  token: string,
  header: TokenHeader,
  maxLength: number,
  details: TokenDetails,
): Promise<Opened> {
  if (!decrypt) {
    throw new VerificationError('decryption_failed', {
      reason: 'no decryption keys are configured',
    });
  }
  const { plaintext, header: encryption } = await decrypt(token, header);
  let text: string;
  try {
    text = utf8.decode(plaintext);
  } catch {
    throw new VerificationError('token_malformed', { reason: 'plaintext is not UTF-8' });
  }
  const cty = encryption.cty === undefined ? undefined : normalizeTyp(encryption.cty);
  if (cty === 'application/jwt' || COMPACT_JWS.test(text)) {
    const inner = parseToken(text, maxLength, details);
    if (inner.kind !== 'jws') {
      throw new VerificationError('token_malformed', { reason: 'nested token is not a JWS' });
    }
    return { jws: inner, encryption };
  }
  return { claims: parseJsonObject(plaintext, 'plaintext'), encryption };
}
