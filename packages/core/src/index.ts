export { createVerifier } from './verifier.js';
export {
  VerificationError,
  VERIFICATION_ERROR_CODES,
  isVerificationError,
  statusOf,
} from './errors.js';
export { extractBearer, extractCredentials, toHttpError } from './http/credentials.js';
// Adapter-only (also in `@tokengate/core/adapter`, where adapters import them from): kept here
// while adapters outside this repository move over.
export { createGate, requireAuth } from './http/gate.js';
/** @deprecated Adapter-only: use `guardRefusal` from `@tokengate/core/adapter`. */
export { guardRefusal as runGuard } from './http/gate.js';
export {
  createGuards,
  scopeGuard,
  claimsGuard,
  parseScopes,
  hasAllScopes,
  hasAnyScope,
} from './guards/scopes.js';
export { claimCheck, claimEquals, claimIncludes } from './guards/claim-checks.js';
export {
  toRejectionRecord,
  toLogLevels,
  logSafe,
  stderrLogger,
  silentLogger,
} from './telemetry/log.js';
export { createRemoteJwks } from './keys/remote-jwks.js';
export { createDiscoveredJwks, discoveryUrls } from './keys/discovery.js';
export { sharedRemoteJwks, sharedDiscoveredJwks } from './keys/shared.js';
export { createFileStore, createMemoryStore } from './keys/http/store.js';
export { createLocalKeySet } from './keys/local.js';
export { importVerificationKey, KeyRejected } from './keys/jwk.js';
export { systemClock } from './config/clock.js';
export { isPromiseLike } from './lib/maybe-promise.js';
export { EVENT_CHANNEL } from './telemetry/events.js';
export { toSeconds } from './config/duration.js';
// Sender-constrained tokens: DPoP (RFC 9449) and mTLS (RFC 8705).
export { createMemoryReplayStore } from './binding/replay-store.js';
export { accessTokenHash, jwkThumbprint, normalizeHtu } from './binding/dpop.js';
export { certificateThumbprint } from './binding/mtls.js';

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
} from './http/credentials.js';
export type { ChallengeContext } from './errors.js';
export type { ReplayStore, MemoryReplayStoreOptions } from './binding/replay-store.js';
export type { DpopOptions } from './binding/dpop.js';
export type { DpopNonceOptions, DpopNonceSource } from './binding/dpop-nonce.js';
export type { MtlsOptions } from './binding/mtls.js';
export type { Gate, GateOptions, GateSettings, RequestIo } from './http/gate.js';
export type { Guard, GuardFactories, ScopeGuardOptions } from './guards/scopes.js';
export type { ClaimCheck, ClaimsPredicate, JsonPrimitive } from './guards/claim-checks.js';
export type {
  LogLevel,
  LogLevels,
  LoggerOption,
  RejectionRecord,
  RequestFacts,
} from './telemetry/log.js';
export type {
  JwksFetchInfo,
  JwksLastError,
  RemoteJwks,
  RemoteJwksOptions,
  RemoteJwksStatus,
} from './keys/remote-jwks.js';
export type { DiscoveredJwks, DiscoveredJwksStatus, IssuerMetadata } from './keys/discovery.js';
export type { JwksStore } from './keys/http/store.js';
export type {
  DecryptionOptions,
  IssuerPolicy,
  IssuerResolver,
  PolicyOptions,
  VerifierOptions,
} from './config/options.js';
export type { Clock } from './config/clock.js';
export type { MaybePromise } from './lib/maybe-promise.js';
export type { EventSink, TokengateEvent } from './telemetry/events.js';
export type { Duration } from './config/duration.js';
export type { KeySelector, KeySource, VerificationKey } from './keys/types.js';
export type { Logger } from './telemetry/log.js';
export type { TokenHeader, TokenPayload, VerifiedToken } from './token/types.js';
export type { Verifier, VerifyOptions } from './verifier.js';
export type { RevokedHook } from './token/revocation.js';
