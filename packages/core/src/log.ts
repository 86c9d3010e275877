import type { VerificationError } from './errors.js';
import { targetPath } from './request-url.js';
import type { Logger } from './types.js';

/** Request facts an adapter adds to the rejection record. */
export interface RequestFacts {
  method: string;
  /**
   * The request target as received (before any rewrite): `/orders?page=2`, or an absolute-form
   * `http://api.example/orders`. The record keeps its path alone.
   */
  path: string;
  requestId?: string | undefined;
}

/** The one structured record every rejection produces. Never the token, never other claims. */
export interface RejectionRecord {
  event: 'token_rejected';
  code: string;
  status: number;
  reason: string;
  kid?: string;
  alg?: string;
  iss?: string;
  method: string;
  path: string;
  requestId?: string;
}

const MAX_FIELD = 128;

/**
 * Makes an untrusted value safe for a log line: strings only, control and non-ASCII characters
 * replaced, length-capped, so a hostile token cannot forge or flood log lines.
 */
export function logSafe(value: unknown, max = MAX_FIELD): string | undefined {
  if (typeof value !== 'string') return undefined;
  const clean = value.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** Builds the rejection record for an error and the request it came with. */
export function toRejectionRecord(err: VerificationError, req: RequestFacts): RejectionRecord {
  const record: RejectionRecord = {
    event: 'token_rejected',
    code: err.code,
    status: err.status,
    reason: err.reason ?? err.message,
    method: logSafe(req.method, 16) ?? '?',
    // The query may carry secrets (access_token=…), an absolute-form target userinfo: only the
    // path is logged.
    path: logSafe(targetPath(req.path), 256) ?? '?',
  };
  const d = err.details;
  const kid = logSafe(d?.kid);
  const alg = logSafe(d?.alg, 32);
  const iss = logSafe(d?.iss, 256);
  if (kid !== undefined) record.kid = kid;
  if (alg !== undefined) record.alg = alg;
  if (iss !== undefined) record.iss = iss;
  const requestId = logSafe(req.requestId);
  if (requestId !== undefined) record.requestId = requestId;
  return record;
}

/** A logger that drops every record: what `logger: false` stands for. */
export const silentLogger: Logger = {
  warn: () => {},
  error: () => {},
  info: () => {},
};

/** The `logger` option: a pino-compatible logger, or `false` to log nothing at all. */
export type LoggerOption = Logger | false;

/**
 * The logger a `logger` option stands for: `false` is silent, `undefined` is `fallback`.
 * Anything else that is not a logger is a TypeError (construction time).
 */
export function toLogger(option: LoggerOption | undefined, fallback: Logger): Logger;
export function toLogger(option: LoggerOption | undefined, fallback?: Logger): Logger | undefined;
export function toLogger(option: LoggerOption | undefined, fallback?: Logger): Logger | undefined {
  if (option === false) return silentLogger;
  if (option === undefined) return fallback;
  const o = option as Partial<Logger> | null;
  if (
    typeof o !== 'object' ||
    o === null ||
    typeof o.warn !== 'function' ||
    typeof o.error !== 'function'
  ) {
    throw new TypeError('"logger" must be a logger (warn(obj, msg) and error(obj, msg)) or false');
  }
  return option;
}

/** The default logger: one JSON line on stderr per record. */
export const stderrLogger: Logger = {
  warn: (obj, msg) => writeLine('warn', obj, msg),
  error: (obj, msg) => writeLine('error', obj, msg),
  info: (obj, msg) => writeLine('info', obj, msg),
};

function writeLine(level: string, obj: object, msg: string | undefined): void {
  process.stderr.write(`${JSON.stringify({ level, time: Date.now(), ...obj, msg })}\n`);
}
