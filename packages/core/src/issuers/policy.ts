import { createDecryptor } from '../token/decrypt.js';
import type { Decryptor } from '../token/decrypt.js';
import { VerificationError } from '../errors.js';
import { isSymmetricAlg } from '../keys/jwk.js';
import { createLocalKeySet } from '../keys/local.js';
import { createDiscoveredJwks } from '../keys/discovery.js';
import { createRemoteJwks } from '../keys/remote-jwks.js';
import type { RemoteJwksOptions } from '../keys/remote-jwks.js';
import { sharedDiscoveredJwks, sharedRemoteJwks } from '../keys/shared.js';
import { normalizeOptions } from '../config/options.js';
import type { NormalizedOptions, VerifierOptions } from '../config/options.js';
import type { KeySource } from '../keys/types.js';
import type { TokenHeader } from '../token/types.js';
import { booleanOption } from '../config/option-default.js';

/** One issuer's checks, its key source and its decryptor, built once. */
export interface Policy {
  readonly options: NormalizedOptions;
  readonly keys: KeySource;
  readonly decrypt: Decryptor | undefined;
}

function createKeySource(options: VerifierOptions, normalized: NormalizedOptions): KeySource {
  if (options.keySource) return options.keySource;
  if (options.keys) {
    return createLocalKeySet(options.keys, {
      allowSymmetric: [...normalized.algorithms].some(isSymmetricAlg),
    });
  }
  const { shared: sharedOption, ...jwks } = options.jwks ?? {};
  const shared = booleanOption(sharedOption, true, 'jwks.shared');
  const remote: RemoteJwksOptions = {
    ...jwks,
    // The clock's identity keys the shared registry: pass it unwrapped.
    now: normalized.now,
    ...(options.logger !== undefined && { logger: options.logger }),
    ...(options.onEvent && { onEvent: options.onEvent }),
  };
  if (options.jwksUri !== undefined) {
    return (shared ? sharedRemoteJwks : createRemoteJwks)(options.jwksUri, remote);
  }
  return (shared ? sharedDiscoveredJwks : createDiscoveredJwks)(normalized.issuers[0]!, remote);
}

/** Validates one policy's options and builds its key source and decryptor. */
export function createPolicy(options: VerifierOptions): Policy {
  const normalized = normalizeOptions(options);
  return {
    options: normalized,
    keys: createKeySource(options, normalized),
    decrypt: normalized.decryption && createDecryptor(normalized.decryption),
  };
}

/**
 * After a JWE was opened with the receiver's keys, checks that the issuer's policy allows what
 * the token used: a multi-issuer verifier decrypts before it knows the issuer.
 */
export function assertEncryptionAllowed(options: NormalizedOptions, header: TokenHeader): void {
  const d = options.decryption;
  if (!d)
    throw new VerificationError('decryption_failed', {
      reason: "the issuer's policy has no decryption keys",
    });
  if (!d.keyManagementAlgorithms.includes(header.alg)) {
    throw new VerificationError('alg_not_allowed', {
      reason: 'JWE "alg" is not in the allow-list',
    });
  }
  if (header.enc === undefined || !d.contentEncryptionAlgorithms.includes(header.enc)) {
    throw new VerificationError('enc_not_allowed');
  }
  if (header.kid !== undefined && !d.keys.some((k) => k.kid === header.kid)) {
    throw new VerificationError('decryption_failed', {
      reason: "the decrypting key is not in the issuer's policy",
    });
  }
  // The shared decryptor inflates when any policy enabled `zip`: this issuer must have, too.
  if (header.zip !== undefined && d.maxDecompressedBytes === 0) {
    throw new VerificationError('token_malformed', {
      reason: 'token is compressed ("zip") and decompression is off',
    });
  }
}
