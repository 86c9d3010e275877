// Review finding 6: verifiers sharing one JWKS cache each keep their own logger. A failure is
// logged once to each distinct logger; `logger: false` on one of them silences only that one.
import { describe, expect, it } from 'vitest';
import { sharedRemoteJwks } from '../../src/keys/shared.js';
import { createVerifier } from '../../src/index.js';
import { createClock } from '@tokengate/test-fixtures/clock';
import { publicJwks, signing } from '@tokengate/test-fixtures/keys';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import { AUDIENCE, ISSUER, claims, sign } from '@tokengate/test-fixtures/tokens';
import { serve } from './harness.js';

const { es256 } = signing;
const es = { kid: es256.kid, alg: 'ES256' };

describe('a shared JWKS cache logs to every sharer', () => {
  const cases = [
    { name: 'first logger false, second a logger', first: false as const, second: true },
    { name: 'two loggers', first: true, second: true },
    { name: 'the same logger twice', first: 'same' as const, second: true },
  ];
  it.each(cases)('$name: each distinct logger hears the failure once', async ({ first }) => {
    const server = await serve(publicJwks(es256));
    server.down();
    const clock = createClock();
    const a = createCapturingLogger();
    const b = createCapturingLogger();
    const jwksA = sharedRemoteJwks(server.url, {
      now: clock.now,
      logger: first === false ? false : first === 'same' ? b : a,
    });
    const jwksB = sharedRemoteJwks(server.url, { now: clock.now, logger: b });
    expect(jwksB).toBe(jwksA);
    await expect(jwksB.getKey(es)).rejects.toMatchObject({ code: 'jwks_unavailable' });
    expect(b.at('error')).toHaveLength(1);
    expect(b.at('error')[0]!.obj).toMatchObject({ event: 'jwks_fetch_failed' });
    expect(a.at('error')).toHaveLength(first === true ? 1 : 0);
  });

  it('through verifiers: logger false on the first does not silence the second', async () => {
    const server = await serve(publicJwks(es256));
    server.down();
    const clock = createClock();
    const logger = createCapturingLogger();
    const options = { issuer: ISSUER, audience: AUDIENCE, jwksUri: server.url, now: clock.now };
    createVerifier({ ...options, logger: false });
    const second = createVerifier({ ...options, logger });
    await expect(second.verify(await sign(claims()))).rejects.toMatchObject({
      code: 'jwks_unavailable',
    });
    expect(logger.at('error').map((r) => r.obj.event)).toEqual(['jwks_fetch_failed']);
  });
});
