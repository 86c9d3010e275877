import { Module } from '@nestjs/common';
import type { DynamicModule, FactoryProvider, ModuleMetadata, Provider } from '@nestjs/common';
import { createGate } from '@tokengate/core/adapter';
import type { Gate, GateOptions } from '@tokengate/core/adapter';
import { TokengateGuard } from './guard.js';
import { nestRequestIo, toCoreLogger } from './request.js';
import type { NestRequest } from './request.js';
import { TOKENGATE_GATE, TOKENGATE_OPTIONS } from './tokens.js';

/**
 * Verifier options (or a ready verifier, alone or as `{ verifier }`) plus the settings every
 * adapter shares (`credentialsRequired`, `getToken`, `logger`, `logLevels`, `onRejected`,
 * `passErrors`, `realm`, …). `Req` is the platform's request type, for `getToken`.
 */
export type TokengateOptions<Req extends object = NestRequest> = GateOptions<Req>;

/** `forRootAsync`: options made by a factory, with injected providers (`ConfigService`, …). */
export interface TokengateAsyncOptions<Req extends object = NestRequest> {
  /** Modules exporting what `inject` names. */
  imports?: ModuleMetadata['imports'];
  /** Providers handed to `useFactory`, in order. */
  inject?: FactoryProvider['inject'];
  useFactory(...args: never[]): TokengateOptions<Req> | Promise<TokengateOptions<Req>>;
}

function isVerifierObject(options: object): boolean {
  return typeof (options as { verify?: unknown }).verify === 'function';
}

/**
 * Built once, when the app starts: a configuration mistake is a `TypeError` from
 * `NestFactory.create`, not an error on the first request. Unless a `logger` is set, records go
 * through Nest's `Logger` (context `Tokengate`), JWKS failures included.
 */
function createNestGate(options: TokengateOptions<object>): Gate<NestRequest> {
  const nestLogger = toCoreLogger();
  const withLogger =
    typeof options === 'object' &&
    options !== null &&
    !isVerifierObject(options) &&
    !('verifier' in options) &&
    (options as { logger?: unknown }).logger === undefined
      ? { ...options, logger: nestLogger }
      : options;
  return createGate<NestRequest>(withLogger, nestRequestIo, () => nestLogger);
}

const GATE_PROVIDER: Provider = {
  provide: TOKENGATE_GATE,
  useFactory: createNestGate,
  inject: [TOKENGATE_OPTIONS],
};

/**
 * Registers the gate and `TokengateGuard`, globally: any module's controllers may use the guard.
 *
 * @example
 * @Module({
 *   imports: [TokengateModule.forRoot({ issuer, audience: 'api://orders', jwksUri })],
 *   providers: [{ provide: APP_GUARD, useClass: TokengateGuard }],
 * })
 * export class AppModule {}
 */
@Module({})
export class TokengateModule {
  /** The module with fixed options. */
  static forRoot<Req extends object = NestRequest>(options: TokengateOptions<Req>): DynamicModule {
    return TokengateModule.with([{ provide: TOKENGATE_OPTIONS, useValue: options }]);
  }

  /**
   * The module with options made by `useFactory` (sync or async) from the providers in `inject`.
   *
   * @example
   * TokengateModule.forRootAsync({
   *   imports: [ConfigModule],
   *   inject: [ConfigService],
   *   useFactory: (config: ConfigService) => ({ issuer: config.get('ISSUER'), … }),
   * })
   */
  static forRootAsync<Req extends object = NestRequest>(
    options: TokengateAsyncOptions<Req>,
  ): DynamicModule {
    if (typeof options?.useFactory !== 'function') {
      throw new TypeError('forRootAsync needs a "useFactory" function');
    }
    const { imports = [], inject = [] } = options;
    // Nest calls the factory on its own (no `this`): as the user wrote it.
    const useFactory = (...args: unknown[]): unknown =>
      (options.useFactory as (...a: unknown[]) => unknown)(...args);
    const provider = {
      provide: TOKENGATE_OPTIONS,
      useFactory,
      inject,
    };
    return { ...TokengateModule.with([provider]), imports };
  }

  private static with(providers: Provider[]): DynamicModule {
    return {
      module: TokengateModule,
      global: true,
      providers: [...providers, GATE_PROVIDER, TokengateGuard],
      exports: [TOKENGATE_GATE, TokengateGuard],
    };
  }
}
