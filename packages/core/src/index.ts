export { createVerifier } from './verifier.js';
export {
  VerificationError,
  VERIFICATION_ERROR_CODES,
  isVerificationError,
  statusOf,
} from './errors.js';
export { extractBearer, extractCredentials, toHttpError } from './http.js';
export { createGate, requireAuth, runGuard } from './gate.js';
export {
  createGuards,
  scopeGuard,
  claimsGuard,
  parseScopes,
  hasAllScopes,
  hasAnyScope,
} from './scopes.js';
export { claimCheck, claimEquals, claimIncludes } from './claim-checks.js';
export { toRejectionRecord, toLogLevels, logSafe, stderrLogger, silentLogger } from './log.js';
export { createRemoteJwks } from './keys/remote-jwks.js';
export { createDiscoveredJwks, discoveryUrls } from './keys/discovery.js';
export { sharedRemoteJwks, sharedDiscoveredJwks } from './keys/shared.js';
export { createFileStore, createMemoryStore } from './keys/store.js';
export { createLocalKeySet } from './keys/local.js';
export { importVerificationKey, KeyRejected } from './keys/jwk.js';
export { systemClock } from './clock.js';
export { isPromiseLike } from './promise.js';
export { EVENT_CHANNEL } from './events.js';
export { toSeconds } from './duration.js';
// Sender-constrained tokens: DPoP (RFC 9449) and mTLS (RFC 8705).
export { createMemoryReplayStore } from './replay-store.js';
export { accessTokenHash, jwkThumbprint, normalizeHtu } from './dpop.js';
export { certificateThumbprint } from './mtls.js';

export type { VerificationErrorCode, VerificationErrorOptions, TokenDetails } from './errors.js';
export type {
  BearerSource,
  CredentialSource,
  Credentials,
  HeadersLike,
  PlainHeaders,
  HttpError,
  HttpErrorOptions,
  PeerSocket,
} from './http.js';
export type { ChallengeContext } from './errors.js';
export type { ReplayStore, MemoryReplayStoreOptions } from './replay-store.js';
export type { DpopOptions } from './dpop.js';
export type { DpopNonceOptions, DpopNonceSource } from './dpop-nonce.js';
export type { MtlsOptions } from './mtls.js';
export type { Gate, GateOptions, GateSettings, RequestIo } from './gate.js';
export type { Guard, GuardFactories, ScopeGuardOptions } from './scopes.js';
export type { ClaimCheck, ClaimsPredicate, JsonPrimitive } from './claim-checks.js';
export type { LogLevel, LogLevels, LoggerOption, RejectionRecord, RequestFacts } from './log.js';
export type {
  JwksFetchInfo,
  JwksLastError,
  RemoteJwks,
  RemoteJwksOptions,
  RemoteJwksStatus,
} from './keys/remote-jwks.js';
export type { DiscoveredJwks, DiscoveredJwksStatus, IssuerMetadata } from './keys/discovery.js';
export type { JwksStore } from './keys/store.js';
export type {
  DecryptionOptions,
  IssuerPolicy,
  IssuerResolver,
  PolicyOptions,
  VerifierOptions,
} from './options.js';
export type { Clock } from './clock.js';
export type { MaybePromise } from './promise.js';
export type { EventSink, TokengateEvent } from './events.js';
export type { Duration } from './duration.js';
export type {
  KeySelector,
  KeySource,
  Logger,
  TokenHeader,
  TokenPayload,
  VerificationKey,
  VerifiedToken,
  Verifier,
  VerifyOptions,
} from './types.js';
