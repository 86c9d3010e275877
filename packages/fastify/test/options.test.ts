import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createStubVerifier } from '@tokengate/test-fixtures/stub-verifier';
import { ACCEPTED_OPTIONS, REFUSED_OPTIONS } from '@tokengate/test-fixtures/unknown-options';
import { tokengate } from '../src/index.js';
import type { TokengateOptions } from '../src/index.js';

async function register(options: Record<string, unknown>): Promise<unknown> {
  const app = Fastify();
  try {
    await app.register(tokengate, options as TokengateOptions);
    await app.ready();
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await app.close();
  }
}

describe('the Fastify plugin checks option names when it is registered', () => {
  it.each(REFUSED_OPTIONS)('refuses $name', async ({ options, message }) => {
    const err = await register(options);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(message);
  });

  it("accepts every adapter setting, passErrors included, and Fastify's own register options", async () => {
    expect(
      await register({ ...ACCEPTED_OPTIONS, prefix: '/api', logLevel: 'warn' }),
    ).toBeUndefined();
  });
});

describe('logger: false behind Fastify', () => {
  it.each([
    { logger: undefined, lines: 1 },
    { logger: false as const, lines: 0 },
  ])(
    'with logger $logger a rejection writes $lines line(s) to request.log',
    async ({ logger, lines }) => {
      const written: string[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _encoding, done) {
          written.push(chunk.toString());
          done();
        },
      });
      const app = Fastify({ logger: { level: 'warn', stream } });
      try {
        const verifier = createStubVerifier({ old: 'token_expired' });
        await app.register(tokengate, logger === undefined ? { verifier } : { verifier, logger });
        app.get('/orders', async () => ({ ran: true }));
        const res = await app.inject({ url: '/orders', headers: { authorization: 'Bearer old' } });
        expect(res.statusCode).toBe(401);
        expect(written).toHaveLength(lines);
      } finally {
        await app.close();
      }
    },
  );
});
