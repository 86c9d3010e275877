// Review finding 5: a key server that sends validators but never answers 304 (an ETag it
// ignores, or `Last-Modified: now`) must not turn an unknown-kid flood into one full download
// per cooldown/15. After a 200 to a conditional forced refresh it is treated as a server
// without validators (one forced refresh per cooldown) until it answers 304 again.
import { describe, expect, it } from 'vitest';
import { publicJwks, signing } from '@tokengate/test-fixtures/keys';
import type { Handler } from '@tokengate/test-fixtures/jwks-server';
import { JWKS_PATH, harness } from './harness.js';

const { es256 } = signing;
const es = { kid: es256.kid, alg: 'ES256' };

let served = 0;
const ignoringEtag: Handler = (req) => {
  // Answer as if no validator had been sent: always the full set.
  delete req.headers['if-none-match'];
  return undefined;
};
const lastModifiedNow: Handler = (_req, { fallback }) => {
  const reply = fallback();
  served++;
  return {
    ...reply,
    headers: {
      ...reply.headers,
      'last-modified': new Date(1_700_000_000_000 + served * 1000).toUTCString(),
    },
  };
};

describe('a key server that ignores its own validators', () => {
  const cases = [
    { name: 'ETag "v1" but always 200', server: { handler: ignoringEtag } },
    {
      name: 'Last-Modified: now, always 200',
      server: { etag: false as const, handler: lastModifiedNow },
    },
  ];
  it.each(cases)(
    '$name: 120 unknown kids over 60 s make one forced refresh per cooldown',
    async ({ server }) => {
      const h = await harness(publicJwks(es256), { server });
      await h.jwks.getKey(es);
      expect(h.server.count(JWKS_PATH)).toBe(1);
      for (let i = 0; i < 120; i++) {
        h.clock.advance(0.5);
        await expect(h.jwks.getKeys({ kid: `random-${i}`, alg: 'ES256' })).rejects.toMatchObject({
          code: 'kid_unknown',
        });
      }
      // The load, then one forced refresh per 30 s cooldown: at 0.5 s, 30.5 s (and the 304-less
      // conditional one that revealed the server is the first of these).
      expect(h.server.count(JWKS_PATH)).toBe(3);
      expect(h.events.seen.filter((e) => e === 'fetch 304')).toHaveLength(0);
    },
  );

  it('a server that starts answering 304 again gets conditional refreshes every cooldown/15 again', async () => {
    let ignore = true;
    const h = await harness(publicJwks(es256), {
      server: { handler: (req, ctx) => (ignore ? ignoringEtag(req, ctx) : undefined) },
    });
    await h.jwks.getKey(es);
    for (let i = 0; i < 20; i++) {
      h.clock.advance(1);
      await expect(h.jwks.getKeys({ kid: `a-${i}`, alg: 'ES256' })).rejects.toMatchObject({
        code: 'kid_unknown',
      });
    }
    expect(h.server.count(JWKS_PATH)).toBe(2);
    ignore = false;
    h.clock.advance(30); // the next cooldown: its forced refresh is answered 304
    await expect(h.jwks.getKeys({ kid: 'b-0', alg: 'ES256' })).rejects.toMatchObject({
      code: 'kid_unknown',
    });
    expect(h.server.count(JWKS_PATH)).toBe(3);
    for (let i = 1; i <= 5; i++) {
      h.clock.advance(2);
      await expect(h.jwks.getKeys({ kid: `b-${i}`, alg: 'ES256' })).rejects.toMatchObject({
        code: 'kid_unknown',
      });
    }
    // Conditional again: one every 2 s (30 s / 15).
    expect(h.server.count(JWKS_PATH)).toBe(8);
    expect(h.events.seen.filter((e) => e === 'fetch 304')).toHaveLength(6);
  });
});
