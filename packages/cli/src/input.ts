// What the user hands the CLI: the token (argument or stdin), key files and times. Every
// problem here is a `CliError`, printed as one line with exit status 2.
import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';

/** A problem with the command line or its inputs (not a verdict on the token): exit status 2. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

// Far above any real token (core refuses more than 16 KiB by default), far below memory trouble.
const MAX_STDIN_BYTES = 1024 * 1024;

/**
 * The token from the argument, or from stdin when the argument is `-` (so it never lands in the
 * shell history). Surrounding white space and a pasted `Bearer ` prefix are removed.
 */
export async function readToken(
  argument: string | undefined,
  stdin: NodeJS.ReadableStream,
): Promise<string> {
  if (argument === undefined) {
    throw new CliError('no token: pass it as an argument, or `-` to read it from stdin');
  }
  const raw = argument === '-' ? await readAll(stdin) : argument;
  const token = raw.trim().replace(/^bearer\s+/i, '');
  if (token === '') throw new CliError(argument === '-' ? 'stdin held no token' : 'empty token');
  return token;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) throw new CliError('stdin holds more than 1 MiB: not a token');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The private JWKs of a key file: one JWK, or a JWKS (`{ "keys": [...] }`). */
export async function readKeyFile(path: string): Promise<JWK[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : code;
    throw new CliError(`cannot read --decrypt-key ${path}: ${why ?? 'unreadable'}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`--decrypt-key ${path} is not JSON (a JWK or a JWKS is expected)`);
  }
  const keys = isObject(json) && Array.isArray(json.keys) ? json.keys : [json];
  if (keys.length === 0 || !keys.every((k) => isObject(k) && typeof k.kty === 'string')) {
    throw new CliError(`--decrypt-key ${path} holds no JWK (a JWK or a JWKS is expected)`);
  }
  return keys as JWK[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Epoch seconds `--at` accepts: 2000-01-01 to 2100-01-01 (UTC). */
const PLAUSIBLE_EPOCH = { from: 946_684_800, to: 4_102_444_800 };

// RFC 3339 date-time: the offset is required, so the instant does not depend on the shell's TZ.
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * `--at`: epoch seconds (2000 to 2100), or an ISO 8601 date-time with `Z` or an offset
 * (`2026-01-01T00:05:00Z`, `2026-01-01T01:05:00+01:00`); returns epoch seconds.
 */
export function parseTime(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) {
    const seconds = Number(text);
    // `20260101` (a date without dashes) or milliseconds would silently check another year.
    if (seconds < PLAUSIBLE_EPOCH.from || seconds >= PLAUSIBLE_EPOCH.to) {
      throw new CliError(
        `--at ${JSON.stringify(text)} is not plausible epoch seconds (2000 to 2100 expected): ` +
          'give seconds since 1970, or an ISO 8601 date with Z or ±hh:mm',
      );
    }
    return seconds;
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(text) && !/(Z|[+-]\d{2}:\d{2})$/i.test(text)) {
    throw new CliError(
      `--at ${JSON.stringify(text)} has no UTC offset: add Z or ±hh:mm (2026-01-01T00:05:00Z)`,
    );
  }
  const ms = isRealDateTime(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) {
    throw new CliError(
      `--at ${JSON.stringify(text)} is not a time: give epoch seconds or an ISO 8601 date ` +
        'with Z or ±hh:mm (2026-01-01T00:05:00Z)',
    );
  }
  return ms / 1000;
}

/** Whether `text` is an RFC 3339 date-time naming a real day and time (`Date.parse` rolls over). */
function isRealDateTime(text: string): boolean {
  const match = ISO_DATE_TIME.exec(text);
  if (!match) return false;
  const [year, month, day, hour, minute, second = '0'] = match.slice(1, 7).map(Number);
  const date = new Date(Date.UTC(year!, month! - 1, day));
  return (
    date.getUTCMonth() === month! - 1 &&
    date.getUTCDate() === day &&
    hour! < 24 &&
    minute! < 60 &&
    Number(second) < 61 // a leap second
  );
}
