import { compactVerify } from 'jose';
import type { JWK } from 'jose';
import { createDecryptor } from '../../src/token/decrypt.js';
import type { DecryptorEngine } from '../../src/token/decrypt.js';
import { isVerificationError } from '../../src/errors.js';
import type { VerificationErrorCode } from '../../src/errors.js';
import { KeyRejected, importVerificationKey, keyFitsAlg } from '../../src/keys/jwk.js';
import { normalizeOptions } from '../../src/config/options.js';
import type { DecryptionOptions } from '../../src/config/options.js';
import { verifyJwsSignature } from '../../src/token/signature.js';
import { parseToken } from '../../src/token/compact.js';
import type { KeySource } from '../../src/keys/types.js';
import type { VectorJwk } from './load.js';

// Drivers for core's layers, shared by the vector tests. Each returns where the layer stopped;
// an error that is not ours (a jose error, a TypeError at run time) is rethrown: a bug.

const MAX_TOKEN_LENGTH = 16 * 1024;

/** Where the signature layer stopped. Anything but `accepted` is a rejection. */
export type SignatureOutcome =
  'accepted' | 'token_malformed' | 'key_rejected' | 'alg_mismatch' | 'signature_invalid';

/**
 * parseToken → importVerificationKey (oct allowed only for an oct JWK) → keyFitsAlg →
 * verifySignature, the path createVerifier takes for a JWS with one candidate key.
 */
export function viaSignatureLayer(token: string, jwk: VectorJwk): SignatureOutcome {
  let parsed;
  try {
    parsed = parseToken(token, MAX_TOKEN_LENGTH, {});
  } catch (err) {
    if (isVerificationError(err) && err.code === 'token_malformed') return 'token_malformed';
    throw err;
  }
  if (parsed.kind !== 'jws') return 'token_malformed';
  let key;
  try {
    key = importVerificationKey(jwk, { allowSymmetric: jwk.kty === 'oct' });
  } catch (err) {
    if (err instanceof KeyRejected) return 'key_rejected';
    throw err;
  }
  if (!keyFitsAlg(key, parsed.header.alg)) return 'alg_mismatch';
  return verifyJwsSignature(parsed.header.alg, key, parsed) ? 'accepted' : 'signature_invalid';
}

/** The header's `alg`, decoded leniently (jose is then restricted to exactly that one). */
function headerOf(token: string): Record<string, unknown> {
  try {
    const header: unknown = JSON.parse(
      Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'),
    );
    return typeof header === 'object' && header !== null ? (header as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** jose as its documentation recommends: the JWK object itself, `algorithms` pinned. */
export async function viaJose(token: string, jwk: VectorJwk): Promise<boolean> {
  const { alg } = headerOf(token);
  try {
    await compactVerify(token, jwk as JWK, { algorithms: typeof alg === 'string' ? [alg] : [] });
    return true;
  } catch {
    return false;
  }
}

const noKeys: KeySource = {
  getKeys: async () => [],
  isPublished: () => false,
  refresh: async () => {},
};

function decryptionSettings(decryption: DecryptionOptions) {
  return normalizeOptions({ issuer: 'i', audience: 'a', keySource: noKeys, decryption })
    .decryption!;
}

/** True when tokengate lets a receiver put this JWE `alg` / `enc` in its allow-list at all. */
export function isAllowable(
  list: 'keyManagementAlgorithms' | 'contentEncryptionAlgorithms',
  value: string,
): boolean {
  try {
    decryptionSettings({ keys: [{ kty: 'oct', k: 'AAAA' }], [list]: [value] });
    return true;
  } catch {
    return false;
  }
}

export type DecryptionOutcome = { plaintext: string } | { code: VerificationErrorCode };

/**
 * Options through normalizeOptions, then createDecryptor. The allow-lists hold the token's own
 * alg / enc whenever tokengate can allow them, so a rejection comes from the token or the key,
 * not from a narrow configuration; an algorithm refused by policy (RSA1_5, PBES2) leaves the
 * default list, so the token must end in `alg_not_allowed`. The plaintext comes back as hex.
 * `engine` picks node:crypto with jose behind it (the default) or jose alone (the reference).
 */
export async function viaDecryptionLayer(
  token: string,
  jwk: VectorJwk,
  engine: DecryptorEngine = {},
): Promise<DecryptionOutcome> {
  const { alg, enc } = headerOf(token);
  const decrypt = createDecryptor(
    decryptionSettings({
      keys: [jwk as JWK],
      ...(typeof alg === 'string' &&
        isAllowable('keyManagementAlgorithms', alg) && { keyManagementAlgorithms: [alg] }),
      ...(typeof enc === 'string' &&
        isAllowable('contentEncryptionAlgorithms', enc) && { contentEncryptionAlgorithms: [enc] }),
    }),
    engine,
  );
  try {
    const parsed = parseToken(token, MAX_TOKEN_LENGTH, {});
    if (parsed.kind !== 'jwe') return { code: 'token_malformed' };
    const { plaintext } = await decrypt(token, parsed.header);
    return { plaintext: Buffer.from(plaintext).toString('hex') };
  } catch (err) {
    if (isVerificationError(err)) return { code: err.code };
    throw err;
  }
}
