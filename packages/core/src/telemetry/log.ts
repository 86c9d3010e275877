import { VERIFICATION_ERROR_CODES } from '../errors.js';
import type { VerificationError, VerificationErrorCode } from '../errors.js';
import { targetPath } from '../http/request-url.js';

/** A pino-compatible logger: `warn(obj, msg)` and `error(obj, msg)`. */
export interface Logger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
}

/** The level a rejection record is logged at; `'silent'` logs nothing. */
export type LogLevel = 'info' | 'warn' | 'error' | 'silent';

/** Per-code log levels (`logLevels` option): codes left out keep their default. */
export type LogLevels = Partial<Record<VerificationErrorCode, LogLevel>>;

const LEVELS: ReadonlySet<string> = new Set<LogLevel>(['info', 'warn', 'error', 'silent']);

// A request without a token is what health checks, scanners and first-time clients send: routine,
// not a warning. Every other rejection is a token someone made, so it stays at `warn`.
const DEFAULT_LEVELS: LogLevels = { token_missing: 'info' };

/**
 * Checks the `logLevels` option and returns the level of every code. Throws a TypeError on an
 * unknown code or level, so a typo fails at start-up rather than silently logging at `warn`.
 */
export function toLogLevels(
  value: LogLevels | undefined,
): Readonly<Record<VerificationErrorCode, LogLevel>> {
  if (
    value !== undefined &&
    (typeof value !== 'object' || value === null || Array.isArray(value))
  ) {
    throw new TypeError('"logLevels" must be an object mapping error codes to levels');
  }
  const levels = {} as Record<VerificationErrorCode, LogLevel>;
  for (const code of VERIFICATION_ERROR_CODES) levels[code] = DEFAULT_LEVELS[code] ?? 'warn';
  for (const [code, level] of Object.entries(value ?? {})) {
    if (!(VERIFICATION_ERROR_CODES as readonly string[]).includes(code)) {
      throw new TypeError(`"logLevels" names an unknown error code: ${JSON.stringify(code)}`);
    }
    if (typeof level !== 'string' || !LEVELS.has(level)) {
      throw new TypeError(
        `"logLevels.${code}" must be 'info', 'warn', 'error' or 'silent', not ${JSON.stringify(level)}`,
      );
    }
    levels[code as VerificationErrorCode] = level;
  }
  return levels;
}

/**
 * Writes one record at `level`. A logger without `info` (it is optional) gets `info` records at
 * `warn`, so nothing is lost.
 */
export function logAt(logger: Logger, level: LogLevel, obj: object, msg: string): void {
  if (level === 'silent') return;
  if (level === 'info') (logger.info ?? logger.warn).call(logger, obj, msg);
  else logger[level](obj, msg);
}

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
  const candidate = option as Partial<Logger> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.warn !== 'function' ||
    typeof candidate.error !== 'function'
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
