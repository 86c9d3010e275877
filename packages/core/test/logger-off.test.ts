// Issue 12: `logger: false` silences everything tokengate would log: key-server failures
// (jwks_fetch_failed, from the key source) as well as rejection records (from the gate).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGate, createVerifier, VerificationError } from '../src/index.js';
import type { LoggerOption } from '../src/index.js';
import { listen } from '@tokengate/test-fixtures/http';
import { AUDIENCE, ISSUER, NOW, generateTestKeys, sign, validClaims } from './helpers/keys.js';

const keys = await generateTestKeys();

/** Lines written to stderr while `run` runs (the default logger writes one JSON line each). */
async function stderrDuring(run: () => Promise<unknown>): Promise<string[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

/** A loopback URL nothing listens on: every fetch fails with ECONNREFUSED. */
async function deadUrl(): Promise<string> {
  const server = await listen((_req, res) => res.end());
  await server.close();
  return `${server.origin}/jwks`;
}

afterEach(() => vi.restoreAllMocks());

describe('logger: false', () => {
  it.each([
    { logger: undefined, lines: 1 },
    { logger: false as const, lines: 0 },
  ])(
    'key-server failures with logger $logger: $lines stderr line(s)',
    async ({ logger, lines }) => {
      const verifier = createVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksUri: await deadUrl(),
        now: () => NOW,
        jwks: { shared: false },
        ...(logger === undefined ? {} : { logger }),
      });
      const token = await sign(keys.es256, validClaims());
      let err: unknown;
      const written = await stderrDuring(async () => {
        err = await verifier.verify(token).catch((e: unknown) => e);
      });
      expect(err).toMatchObject({ code: 'jwks_unavailable' });
      expect(written).toHaveLength(lines);
      if (lines) expect(JSON.parse(written[0]!)).toMatchObject({ event: 'jwks_fetch_failed' });
    },
  );

  it.each([
    { logger: undefined, lines: 1 },
    { logger: false as const, lines: 0 },
  ])(
    'rejections behind the gate with logger $logger: $lines line(s)',
    async ({ logger, lines }) => {
      const gate = createGate(
        {
          issuer: ISSUER,
          audience: AUDIENCE,
          keys: [keys.es256.publicJwk],
          ...(logger === undefined ? {} : { logger: logger as LoggerOption }),
        },
        { raw: () => ({ headers: {} }), facts: () => ({ method: 'GET', path: '/orders' }) },
      );
      const written = await stderrDuring(async () => {
        gate.reject(new VerificationError('token_missing'), {});
      });
      expect(written).toHaveLength(lines);
    },
  );

  it('is refused when it is neither a logger nor false', () => {
    const options = { issuer: ISSUER, audience: AUDIENCE, keys: [keys.es256.publicJwk] };
    for (const logger of [true, 'stderr', {}, { warn() {} }]) {
      expect(() => createVerifier({ ...options, logger } as never)).toThrow(
        /"logger" must be a logger \(warn\(obj, msg\) and error\(obj, msg\)\) or false/,
      );
    }
  });
});
