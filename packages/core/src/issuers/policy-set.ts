import { createDecryptor } from '../token/decrypt.js';
import type { Decryptor } from '../token/decrypt.js';
import { VerificationError } from '../errors.js';
import { toSeconds } from '../config/duration.js';
import { orDefault } from '../config/option-default.js';
import { DEFAULT_CONTENT_ENCRYPTION, DEFAULT_KEY_MANAGEMENT } from '../config/options.js';
import type { IssuerPolicy, IssuerResolver, VerifierOptions } from '../config/options.js';
import { INHERITED_BY_ISSUERS, assertKnownOptions } from '../config/option-names.js';
import { createPolicy } from './policy.js';
import type { Policy } from './policy.js';
import type { Clock } from '../config/clock.js';
import type { JWK } from 'jose';

/** Chooses the policy for a token's (unverified) `iss`, and opens JWEs before that is known. */
export interface PolicySet {
  readonly decrypt: Decryptor | undefined;
  /** The policy for `iss`, or `issuer_mismatch`. Never builds a URL from `iss`. */
  choose(iss: unknown, request: unknown): Policy | Promise<Policy>;
  ready(): Promise<void>;
}

function policyFor(options: VerifierOptions, entry: IssuerPolicy): Policy {
  if (typeof entry !== 'object' || entry === null || typeof entry.issuer !== 'string') {
    throw new TypeError('each entry of "issuers" needs an "issuer" string');
  }
  const merged: Record<string, unknown> = {};
  for (const name of INHERITED_BY_ISSUERS)
    if (options[name] !== undefined) merged[name] = options[name];
  return createPolicy({ ...merged, ...entry });
}

/** One decryptor over the receiver keys of every policy (deduplicated by `kid`). */
function unionDecryptor(
  options: VerifierOptions,
  policies: readonly Policy[],
): Decryptor | undefined {
  const keys = new Map<string, JWK>();
  const algs = new Set<string>();
  const encs = new Set<string>();
  let allowUnsignedClaims = false;
  let maxDecompressedBytes = 0;
  for (const p of policies) {
    const d = p.options.decryption;
    if (!d) continue;
    d.keys.forEach((k, i) => keys.set(k.kid ?? `#${keys.size}-${i}`, k));
    d.keyManagementAlgorithms.forEach((a) => algs.add(a));
    d.contentEncryptionAlgorithms.forEach((e) => encs.add(e));
    allowUnsignedClaims ||= d.allowUnsignedClaims;
    maxDecompressedBytes = Math.max(maxDecompressedBytes, d.maxDecompressedBytes);
  }
  const top = options.decryption;
  if (keys.size === 0 && !top) return undefined;
  if (top) {
    top.keys.forEach((k, i) => keys.set(k.kid ?? `#top-${i}`, k));
    (top.keyManagementAlgorithms ?? DEFAULT_KEY_MANAGEMENT).forEach((a) => algs.add(a));
    (top.contentEncryptionAlgorithms ?? DEFAULT_CONTENT_ENCRYPTION).forEach((e) => encs.add(e));
  }
  return createDecryptor({
    keys: [...keys.values()],
    keyManagementAlgorithms: [...algs],
    contentEncryptionAlgorithms: [...encs],
    allowUnsignedClaims,
    maxDecompressedBytes,
  });
}

/** Resolver results, cached by issuer on the verifier's clock and bounded in number. */
function resolverSet(options: VerifierOptions, resolve: IssuerResolver, now: Clock): PolicySet {
  const max = orDefault(options.issuerCache?.max, 1000, 'issuerCache.max');
  const ttl = toSeconds(
    orDefault(options.issuerCache?.ttl, '10m', 'issuerCache.ttl'),
    'issuerCache.ttl',
  );
  if (!Number.isSafeInteger(max) || max <= 0) {
    throw new TypeError('"issuerCache.max" must be a positive integer');
  }
  const cache = new Map<string, { until: number; policy: Promise<Policy | undefined> }>();
  const decrypt = unionDecryptor(options, []);

  async function lookup(iss: string, request: unknown): Promise<Policy | undefined> {
    const entry = await resolve(iss, request);
    if (entry === undefined || entry === null) return undefined;
    if (entry.issuer !== iss) throw new TypeError('the issuer resolver returned another issuer');
    assertKnownOptions(entry, ['issuers[]'], 'issuers() result');
    return policyFor(options, entry);
  }

  return {
    decrypt,
    choose(iss, request) {
      if (typeof iss !== 'string') throw new VerificationError('issuer_mismatch');
      const t = now();
      let hit = cache.get(iss);
      if (!hit || hit.until <= t) {
        const policy = lookup(iss, request);
        hit = { until: t + ttl, policy };
        cache.delete(iss);
        cache.set(iss, hit);
        // Map keeps insertion order: the first key is the oldest entry.
        if (cache.size > max) cache.delete(cache.keys().next().value!);
        // A failed lookup is not remembered: the next token asks again.
        policy.catch(() => cache.get(iss) === hit && cache.delete(iss));
      }
      return hit.policy.then(
        (p) => {
          if (!p) throw new VerificationError('issuer_mismatch');
          return p;
        },
        (cause: unknown) => {
          throw new VerificationError('jwks_unavailable', {
            cause,
            reason: 'the issuer resolver failed',
          });
        },
      );
    },
    ready: async () => {},
  };
}

/** Builds the policy set for `issuer` (one policy), `issuers: [...]` or `issuers: resolver`. */
export function createPolicySet(options: VerifierOptions, now: Clock): PolicySet {
  const { issuers } = options;
  if (issuers === undefined) {
    const policy = createPolicy(options);
    return { decrypt: policy.decrypt, choose: () => policy, ready: () => policy.keys.refresh() };
  }
  if (options.issuer !== undefined) throw new TypeError('give "issuer" or "issuers", not both');
  if (typeof issuers === 'function') return resolverSet(options, issuers, now);
  if (!Array.isArray(issuers) || issuers.length === 0) {
    throw new TypeError('"issuers" must be a non-empty array of policies or a resolver function');
  }
  const byIssuer = new Map<string, Policy>();
  for (const entry of issuers as readonly IssuerPolicy[]) {
    const policy = policyFor(options, entry);
    if (byIssuer.has(entry.issuer)) throw new TypeError(`issuer "${entry.issuer}" is listed twice`);
    byIssuer.set(entry.issuer, policy);
  }
  const policies = [...byIssuer.values()];
  return {
    decrypt: unionDecryptor(options, policies),
    choose(iss) {
      const policy = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
      if (!policy) throw new VerificationError('issuer_mismatch');
      return policy;
    },
    ready: async () => {
      await Promise.all(policies.map((p) => p.keys.refresh()));
    },
  };
}
