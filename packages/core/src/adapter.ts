// `@tokengate/core/adapter`: what only framework adapters share (the gate, the guard wrapper, the
// sync/async dispatch helper). Applications import from `@tokengate/core` (or their adapter).
export { createGate, requireAuth, guardRefusal } from './http/gate.js';
export { createGuards } from './guards/scopes.js';
export { isPromiseLike } from './lib/maybe-promise.js';
export type { Gate, GateOptions, GateSettings, RequestIo } from './http/gate.js';
export type { Guard, GuardFactories } from './guards/scopes.js';
export type { MaybePromise } from './lib/maybe-promise.js';
