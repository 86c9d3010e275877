import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Logger as NestLogger } from '@nestjs/common';
import type { LoggerService } from '@nestjs/common';
import type { Logger, VerifiedToken } from '@tokengate/core';
import type { RequestIo } from '@tokengate/core/adapter';

/**
 * The request a Nest guard sees: Express's `Request` on platform-express (itself the Node
 * request), Fastify's `FastifyRequest` on platform-fastify (the Node request is `raw`). Only
 * what tokengate reads is typed; pass your platform's type to `forRoot<Req>()` for `getToken`.
 */
export interface NestRequest {
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** The request target as received (both platforms keep it; Express's routers change `url`). */
  readonly originalUrl?: string | undefined;
  readonly url?: string | undefined;
  /** Fastify's Node request. */
  readonly raw?: IncomingMessage | undefined;
  /** Fastify's request id, or one set by pino-http and similar on Express. */
  readonly id?: unknown;
  /** The verified token, set by `TokengateGuard`; absent when credentials are optional and none were sent. */
  auth?: VerifiedToken | undefined;
}

function nodeRequest(req: NestRequest): IncomingMessage {
  return req.raw ?? (req as unknown as IncomingMessage);
}

/** How the gate reads a request on either platform. */
export const nestRequestIo: RequestIo<NestRequest> = {
  raw: nodeRequest,
  facts(req) {
    const raw = nodeRequest(req);
    const id = req.id;
    const header = raw.headers['x-request-id'];
    return {
      method: req.method ?? raw.method ?? 'GET',
      // The URL as received: a DPoP proof names what the client called, not a rewritten URL.
      path: req.originalUrl ?? raw.url ?? '/',
      requestId:
        typeof id === 'string' || typeof id === 'number'
          ? String(id)
          : typeof header === 'string'
            ? header
            : undefined,
    };
  },
};

/**
 * Core's logger interface over a Nest logger: records go wherever the app's logger (set with
 * `NestFactory.create(…, { logger })` or `app.useLogger`) sends them, as one structured message
 * each. `info` is Nest's `log`.
 */
export function toCoreLogger(nest: LoggerService = new NestLogger('Tokengate')): Logger {
  return {
    info: (obj, msg) => void nest.log({ msg, ...obj }),
    warn: (obj, msg) => void nest.warn({ msg, ...obj }),
    error: (obj, msg) => void nest.error({ msg, ...obj }),
  };
}
