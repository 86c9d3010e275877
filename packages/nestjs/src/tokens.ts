/** Injection token of the options given to `TokengateModule.forRoot` (or made by `forRootAsync`). */
export const TOKENGATE_OPTIONS = Symbol('TOKENGATE_OPTIONS');

/** Injection token of the gate (core's `createGate`) the module builds once from the options. */
export const TOKENGATE_GATE = Symbol('TOKENGATE_GATE');

/** Metadata key of `@Public()`. */
export const PUBLIC_ROUTE = 'tokengate:public';

/** Metadata key of the checks `@Scopes`, `@AnyScope` and `@Claims` add to a handler or class. */
export const ROUTE_CHECKS = 'tokengate:checks';
