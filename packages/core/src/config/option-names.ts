// Every option name tokengate knows, per level, in one table: a name missing here is refused at
// construction, so a typo (`requireEncrytion`) can never silently switch a check off. Adding an
// option is one line in the table below (the type checks at the end catch a forgotten one).
import type { DecryptionOptions, PolicyOptions, VerifierOptions } from './options.js';
import type { DpopOptions } from '../binding/dpop.js';
import type { MtlsOptions } from '../binding/mtls.js';
import type { GateSettings } from '../http/gate.js';
import type { RemoteJwksOptions } from '../keys/remote-options.js';
import type { DpopNonceOptions } from '../binding/dpop-nonce.js';

/** Where an issuer's keys come from: exactly one of these, never inherited by `issuers[]`. */
const KEY_SOURCE = ['jwksUri', 'discovery', 'keys', 'keySource'] as const;

/** What one issuer's tokens must satisfy, besides its key source. */
const POLICY_RULES = [
  'audience',
  'jwks',
  'algorithms',
  'decryption',
  'requireEncryption',
  'clockTolerance',
  'maxTokenAge',
  'requiredClaims',
  'requireExp',
  'typ',
  'profile',
  'maxCandidateKeys',
  'revoked',
] as const;

/** What one issuer's tokens must satisfy: top level and each `issuers[]` entry. */
const POLICY = [...POLICY_RULES, ...KEY_SOURCE] as const;

/**
 * Top-level options every `issuers[]` entry inherits unless it sets its own: its rules and the
 * shared machinery, never the key source (each issuer's keys stay its own).
 */
export const INHERITED_BY_ISSUERS = [
  ...POLICY_RULES,
  'tokenCache',
  'maxTokenLength',
  'now',
  'logger',
] as const;

/** Known option names per level. `adapter` holds what createGate and every adapter add. */
export const OPTION_NAMES = {
  top: [
    ...POLICY,
    'issuer',
    'issuers',
    'issuerCache',
    'tokenCache',
    'maxTokenLength',
    'now',
    'logger',
    'onEvent',
  ],
  'issuers[]': ['issuer', ...POLICY],
  jwks: [
    'shared',
    'logger',
    'timeout',
    'maxBodyBytes',
    'cooldown',
    'minTtl',
    'maxTtl',
    'defaultTtl',
    'maxStale',
    'maxKeys',
    'allowInsecureHttp',
    'onFetch',
    'onError',
    'onEvent',
    'store',
    'maxWait',
    'random',
  ],
  decryption: [
    'keys',
    'keyManagementAlgorithms',
    'contentEncryptionAlgorithms',
    'allowUnsignedClaims',
    'maxDecompressedBytes',
  ],
  tokenCache: ['max', 'maxBytes'],
  issuerCache: ['max', 'ttl'],
  dpop: ['mode', 'algorithms', 'iatWindow', 'nonce', 'replayStore', 'origin', 'url', 'now'],
  // The `{ secret }` form; a `{ current, isValid }` source is the caller's object, not checked.
  'dpop.nonce': ['secret', 'lifetime'],
  mtls: ['certificate', 'required'],
  adapter: [
    'verifier',
    'credentialsRequired',
    'getToken',
    'logger',
    'onRejected',
    'realm',
    'scopeClaims',
    'dpop',
    'mtls',
    'logLevels',
    'passErrors',
  ],
} as const satisfies Record<string, readonly string[]>;

export type OptionLevel = keyof typeof OPTION_NAMES;

/** Options whose value is itself checked against a level (`issuers` holds a list of them). */
const NESTED: Readonly<Record<string, OptionLevel>> = {
  jwks: 'jwks',
  decryption: 'decryption',
  tokenCache: 'tokenCache',
  issuerCache: 'issuerCache',
  dpop: 'dpop',
  mtls: 'mtls',
  issuers: 'issuers[]',
  nonce: 'dpop.nonce',
};

const SECRET_HINT =
  'tokengate has no "secret": pass a shared secret as a static key, ' +
  "`keys: [{ kty: 'oct', k: Buffer.from(secret).toString('base64url') }]`, " +
  "with `algorithms: ['HS256']`";
const AUTH_PROPERTY =
  'the verified token is always `req.auth` (Express), `ctx.state.auth` (Koa) or `request.auth` (Fastify)';

/**
 * Names other JWT libraries use (express-jwt, koa-jwt, @fastify/jwt, express-oauth2-jwt-bearer,
 * jsonwebtoken, jwks-rsa), with what to write here instead.
 */
const FOREIGN: Readonly<Record<string, string>> = {
  secret: SECRET_HINT,
  secretOrPublicKey: SECRET_HINT,
  publicKey:
    'pass public keys as `keys: [jwk, ...]` (a JWKS object or a list of JWKs), or `jwksUri`',
  requestProperty: AUTH_PROPERTY,
  property: AUTH_PROPERTY,
  key: `${AUTH_PROPERTY}; a verification key goes in \`keys: [jwk]\``,
  namespace: AUTH_PROPERTY,
  issuerBaseURL: 'use `issuer` (the exact `iss`) with `discovery: true`, or `jwksUri`',
  issuerBaseUrl: 'use `issuer` (the exact `iss`) with `discovery: true`, or `jwksUri`',
  tokenSigningAlg: "use `algorithms: ['RS256']` (an allow-list)",
  algorithm: "use `algorithms: ['RS256']` (an allow-list)",
  jwks_uri: 'use `jwksUri`',
  jwksURI: 'use `jwksUri`',
  jwksUrl: 'use `jwksUri`',
  aud: 'use `audience`',
  iss: 'use `issuer`',
  authRequired: 'use `credentialsRequired`',
  passthrough: 'use `credentialsRequired: false`',
  credentialsOptional: 'use `credentialsRequired: false`',
  cookie: 'use `getToken: (req) => <the cookie>`',
  tokenKey: 'use `getToken`',
  isRevoked: 'use `revoked: (payload, header) => boolean` (checked on cache hits too)',
  maxAge: 'use `maxTokenAge`',
  clockTimestamp: 'use `now: () => <epoch seconds>`',
  clockSkew: 'use `clockTolerance`',
  ignoreExpiration:
    'tokengate always checks `exp`; `requireExp: false` only accepts tokens without one',
  cacheMaxAge: 'use `jwks: { maxTtl }`',
  timeoutDuration: 'use `jwks: { timeout }`',
  jwksRequestsPerMinute: 'use `jwks: { cooldown }` (one unknown-kid refresh per cooldown)',
};

/** Levels where a name found at another level is worth pointing to (`store` → `jwks.store`). */
const ELSEWHERE: Readonly<Partial<Record<OptionLevel, readonly OptionLevel[]>>> = {
  top: ['jwks', 'decryption', 'tokenCache', 'issuerCache', 'adapter'],
  'issuers[]': ['jwks', 'decryption'],
};

/**
 * Edit distance (optimal string alignment: insert, delete, substitute, swap two neighbours),
 * case-insensitive. `clockTolerence` → `clockTolerance` is 1, `mdoe` → `mode` is 1.
 */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const d = Array.from({ length: x.length + 1 }, (_, i) =>
    Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[x.length]![y.length]!;
}

/**
 * The known name closest to `name`, if it looks like a typo of it: within one edit per three
 * characters, or one name a prefix of the other (`allowUnsigned` → `allowUnsignedClaims`).
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const allowed = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const other = candidate.toLowerCase();
    const prefix =
      Math.min(lower.length, other.length) >= 3 &&
      (other.startsWith(lower) || lower.startsWith(other));
    const d = editDistance(name, candidate);
    if ((d <= allowed || prefix) && d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function placeOf(where: string): string {
  return where === '' ? 'at the top level' : `in \`${where}\``;
}

function unknownOption(name: string, where: string, levels: readonly OptionLevel[]): TypeError {
  const known = levels.flatMap((l) => OPTION_NAMES[l]);
  const foreign = Object.hasOwn(FOREIGN, name) ? FOREIGN[name] : undefined;
  const elsewhere = levels
    .flatMap((l) => ELSEWHERE[l] ?? [])
    .find((l) => l !== 'adapter' && (OPTION_NAMES[l] as readonly string[]).includes(name));
  const closest = closestName(name, known);
  const hint =
    foreign ??
    (elsewhere !== undefined
      ? `it belongs in \`${elsewhere}\`: \`${elsewhere}: { ${name} }\``
      : closest !== undefined
        ? `did you mean \`${closest}\`?`
        : `known options here: ${known.map((n) => `\`${n}\``).join(', ')}`);
  return new TypeError(`unknown option \`${name}\` ${placeOf(where)}: ${hint}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Throws a TypeError for the first option name `options` (and the nested option objects in it)
 * does not know at `levels`. Values are not checked here; their validation stays with their
 * option. `where` names the place in messages (`''` for the top level, `issuers[1]`, …).
 */
export function assertKnownOptions(
  options: unknown,
  levels: readonly OptionLevel[],
  where = '',
): void {
  if (!isPlainObject(options)) return;
  const known = new Set<string>(levels.flatMap((l) => OPTION_NAMES[l]));
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw unknownOption(name, where, levels);
    const level = NESTED[name];
    const value = options[name];
    if (level === undefined || value === undefined) continue;
    if (
      level === 'dpop.nonce' &&
      isPlainObject(value) &&
      ('current' in value || 'isValid' in value)
    ) {
      continue;
    }
    const path = where === '' ? name : `${where}.${name}`;
    if (level === 'issuers[]') {
      if (Array.isArray(value)) {
        value.forEach((entry, i) => assertKnownOptions(entry, [level], `${path}[${i}]`));
      }
    } else assertKnownOptions(value, [level], path);
  }
}

const TOP = new Set<string>(OPTION_NAMES.top);
const ADAPTER_ONLY = OPTION_NAMES.adapter.filter((name) => !TOP.has(name));

/** The verifier's share of adapter options: everything but the gate's own settings. */
export function verifierOptionsOf<T extends object>(options: T): T {
  const copy: Record<string, unknown> = { ...(options as Record<string, unknown>) };
  for (const name of ADAPTER_ONLY) delete copy[name];
  return copy as T;
}

// Compile-time completeness: every name the option types declare must be in the table.
type Missing<T, L extends OptionLevel> = Exclude<keyof T, (typeof OPTION_NAMES)[L][number]>;
type Complete<M> = [M] extends [never] ? true : M;
export const TABLE_COMPLETE: [
  Complete<Missing<VerifierOptions, 'top'>>,
  Complete<Missing<PolicyOptions, 'issuers[]'>>,
  Complete<Missing<Omit<RemoteJwksOptions, 'now'>, 'jwks'>>,
  Complete<Missing<DecryptionOptions, 'decryption'>>,
  Complete<Missing<DpopOptions, 'dpop'>>,
  Complete<Missing<MtlsOptions, 'mtls'>>,
  Complete<Missing<DpopNonceOptions, 'dpop.nonce'>>,
  Complete<Missing<GateSettings<unknown>, 'adapter'>>,
] = [true, true, true, true, true, true, true, true];
