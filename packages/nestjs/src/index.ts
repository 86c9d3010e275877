export { TokengateModule } from './module.js';
export type { TokengateAsyncOptions, TokengateOptions } from './module.js';
export { TokengateGuard } from './guard.js';
export { TokengateException } from './exception.js';
export { AnyScope, Auth, Claims, Public, Scopes } from './decorators.js';
export type { AuthOptions, RouteDecorator } from './decorators.js';
export { toCoreLogger } from './request.js';
export type { NestRequest } from './request.js';
export { PUBLIC_ROUTE, ROUTE_CHECKS, TOKENGATE_GATE, TOKENGATE_OPTIONS } from './tokens.js';

// One install per framework: everything core offers (createVerifier, claimEquals,
// createFileStore, VerificationError, the types, …) is importable from this package too, so an
// app that installed only @tokengate/nestjs needs no import from @tokengate/core (which pnpm's
// strict layout would refuse).
export * from '@tokengate/core';
