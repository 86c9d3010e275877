// The issuer's key server: stale keys while it is down, 503 when nothing is cached.
import { expect } from 'vitest';
import { claims, sign } from '@tokengate/test-fixtures/tokens';
import type { Case } from './case.js';
import { es256Hints, ok, unavailable } from './expect.js';
import { bearer, sendOk, shortLivedKeys } from './requests.js';

export const keyServerCases: Case[] = [
  {
    name: 'key server down, keys cached (stale) → 200',
    options: () => shortLivedKeys,
    before: async ({ app, jwks, clock }) => {
      // Warm the key cache, then let it go stale while the server is down.
      await sendOk(app, bearer(await sign(claims())));
      jwks.down();
      clock.advance(3600);
    },
    request: async ({ clock }) => bearer(await sign(claims({}, clock.now()))),
    expect: ok(),
    after: ({ jwks }) => {
      // The stale keys answered although a refresh was tried and failed.
      expect(jwks.count()).toBeGreaterThanOrEqual(2);
    },
  },
  {
    name: 'key server down, no keys cached → 503',
    options: () => shortLivedKeys,
    before: async ({ jwks }) => {
      jwks.down();
    },
    request: async () => bearer(await sign(claims())),
    expect: unavailable(
      'jwks_unavailable',
      'signing keys are temporarily unavailable',
      es256Hints(),
    ),
    after: ({ jwks }) => {
      expect(jwks.count()).toBeGreaterThanOrEqual(1);
    },
  },
];
