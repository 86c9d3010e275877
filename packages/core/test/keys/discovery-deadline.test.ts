// Review finding 7: a cold discovery source waits for the metadata and then for the JWKS; both
// share one `maxWait` deadline, so a cold request never waits 2 × maxWait.
import { describe, expect, it } from 'vitest';
import { createDiscoveredJwks } from '../../src/keys/discovery.js';
import { createClock } from '@tokengate/test-fixtures/clock';
import { publicJwks, signing } from '@tokengate/test-fixtures/keys';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import { serve } from './harness.js';

const { es256 } = signing;

describe('discovery: one maxWait for metadata and key set', () => {
  it('metadata and JWKS each slower than half of maxWait: jwks_unavailable, fetches carry on', async () => {
    // Each answer takes 0.8 s; maxWait is 1 s. Two separate waits would both succeed.
    const server = await serve(publicJwks(es256), {
      handler: (_req, { fallback }) => ({ ...fallback(), delayMs: 800 }),
    });
    const clock = createClock();
    const source = createDiscoveredJwks(server.issuer, {
      now: clock.now,
      logger: createCapturingLogger(),
      maxWait: '1s',
    });
    await expect(source.getKeys({ kid: es256.kid, alg: 'ES256' })).rejects.toMatchObject({
      code: 'jwks_unavailable',
    });
    // The fetches carried on: the next request is served.
    await expect(source.refresh()).resolves.toBeUndefined();
    const keys = await source.getKeys({ kid: es256.kid, alg: 'ES256' });
    expect(keys.map((k) => k.kid)).toEqual([es256.kid]);
  });
});
