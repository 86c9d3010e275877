// Command line parsing and dispatch. The parser is node's own `util.parseArgs` (Node core,
// maintained with Node, no dependency to audit in a tool that handles live tokens); the CLI adds
// only the two-command dispatch and the help text.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { systemClock } from '@tokengate/core';
import { inspect } from './inspect.js';
import { CliError, parseTime, readKeyFile, readToken } from './input.js';
import { toReport } from './report.js';
import { reportText } from './transcript.js';
import { runVerify } from './verify.js';

/** Where the CLI reads and writes: the process's streams, or a test's. */
export interface Io {
  stdin: NodeJS.ReadableStream;
  out(text: string): void;
  err(text: string): void;
}

/** Exit statuses: 0 valid (or decoded), 1 refused by the verifier, 2 the CLI could not run. */
export const EXIT = { ok: 0, refused: 1, usage: 2 } as const;

const USAGE = `Usage:
  tokengate inspect <token|-> [--decrypt-key FILE] [--at TIME] [--json]
  tokengate verify  <token|-> --issuer ISS --audience AUD (--jwks-uri URL | --discovery)
                    [--decrypt-key FILE] [--algorithms ES256,RS256] [--at TIME] [--json]

inspect   decodes the token WITHOUT verifying it: the headers of every layer, the claims with
          dates, and for a JWE the key it needs (opened when --decrypt-key holds that key).
verify    runs the verifier the middleware runs and prints each step: decrypt, kid, JWKS
          fetch, signature, each claim check. Exit 0 when valid, 1 with the error code.

  <token|->           the compact token, or - to read it from stdin (keeps it out of history)
  --issuer ISS        the trusted issuer (exact iss)
  --audience AUD      an accepted audience (repeat for several)
  --jwks-uri URL      the issuer's JWKS (https:, or http: on loopback)
  --discovery         find the JWKS through the issuer's metadata instead
  --decrypt-key FILE  the receiver's private key(s): a JWK or a JWKS JSON file
  --algorithms LIST   comma-separated JWS algorithms allowed (default: core's list)
  --at TIME           check as of this time: epoch seconds (2000 to 2100), or an ISO 8601
                      date with Z or an offset (2026-01-01T00:05:00Z)
  --json              print one JSON object instead of the transcript

Exit status: 0 valid (inspect: decoded), 1 refused by the verifier, 2 bad usage or input.`;

const COMMON: ParseArgsConfig['options'] = {
  'decrypt-key': { type: 'string' },
  at: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};
const VERIFY: ParseArgsConfig['options'] = {
  ...COMMON,
  issuer: { type: 'string' },
  audience: { type: 'string', multiple: true },
  'jwks-uri': { type: 'string' },
  discovery: { type: 'boolean' },
  algorithms: { type: 'string' },
};

function version(): string {
  const pkg = new URL('../package.json', import.meta.url);
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

/** Parses one command's arguments; a parser complaint becomes a CliError. */
function parse(args: string[], options: ParseArgsConfig['options']) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs explains in its first sentence; the rest is advice about `--`.
    throw new CliError((err as Error).message.split('. ')[0]!.replace(/\.$/, ''));
  }
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new CliError(`verify needs ${flag}`);
  return value;
}

/** Runs the CLI; resolves to the exit status. Never throws and never prints a stack trace. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  try {
    if (command === undefined) throw new CliError('no command: use inspect or verify (--help)');
    if (command === '--help' || command === '-h' || command === 'help') {
      io.out(USAGE);
      return EXIT.ok;
    }
    if (command === '--version' || command === '-v') {
      io.out(version());
      return EXIT.ok;
    }
    if (command !== 'inspect' && command !== 'verify') {
      throw new CliError(`unknown command ${JSON.stringify(command)}: use inspect or verify`);
    }
    const { values, positionals } = parse(rest, command === 'verify' ? VERIFY : COMMON);
    const v = values as Record<string, string | string[] | boolean | undefined>;
    if (v.help) {
      io.out(USAGE);
      return EXIT.ok;
    }
    if (positionals.length > 1) throw new CliError('give one token (or -)');
    const at = typeof v.at === 'string' ? parseTime(v.at) : undefined;
    const keyFile = v['decrypt-key'] as string | undefined;
    const decryptKeys = keyFile === undefined ? [] : await readKeyFile(keyFile);
    const token = await readToken(positionals[0], io.stdin);
    if (command === 'inspect') {
      try {
        io.out(await inspect(token, decryptKeys, at ?? systemClock(), json));
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError((err as Error).message);
      }
      return EXIT.ok;
    }
    const jwksUri = v['jwks-uri'] as string | undefined;
    if ((jwksUri === undefined) === !v.discovery) {
      throw new CliError('verify needs one of --jwks-uri URL or --discovery');
    }
    const algorithms = typeof v.algorithms === 'string' ? v.algorithms.split(',') : undefined;
    const run = await runVerify(token, {
      issuer: required(v.issuer as string | undefined, '--issuer ISS'),
      audience: (v.audience as string[] | undefined) ?? [required(undefined, '--audience AUD')],
      jwksUri,
      discovery: v.discovery === true,
      algorithms: algorithms?.map((a) => a.trim()).filter(Boolean),
      decryptKeys,
      at,
    });
    const report = toReport(run);
    io.out(json ? JSON.stringify(report, null, 2) : reportText(report));
    return report.valid ? EXIT.ok : EXIT.refused;
  } catch (err) {
    const message =
      err instanceof CliError ? err.message : `unexpected error: ${(err as Error)?.message ?? err}`;
    if (json) io.out(JSON.stringify({ error: message }));
    else io.err(`tokengate: ${message}`);
    return EXIT.usage;
  }
}
