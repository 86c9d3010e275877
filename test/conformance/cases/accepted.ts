// Tokens every adapter accepts: JWS, nested JWE, cache hits.
import { encryption, signing } from '@tokengate/test-fixtures/keys';
import { claims, nested, sign } from '@tokengate/test-fixtures/tokens';
import type { Case } from './case.js';
import { ok } from './expect.js';
import { bearer, cachedToken, sendOk } from './requests.js';

export const acceptedCases: Case[] = [
  {
    name: 'valid JWS',
    request: async () => bearer(await sign(claims())),
    expect: ok(),
  },
  {
    name: 'valid nested JWE (signed, then encrypted to the receiver)',
    request: async () => bearer(await nested(claims())),
    expect: ok('open', true),
  },
  {
    name: 'valid nested JWE to the ECDH-ES key, signed with EdDSA',
    request: async () =>
      bearer(
        await nested(claims(), {
          sign: { key: signing.eddsa },
          encrypt: { to: encryption.ecdhEs },
        }),
      ),
    expect: ok('open', true),
  },
  {
    name: 'scheme is case-insensitive ("bearer")',
    request: async () => {
      const token = await sign(claims(), { key: signing.rs256 });
      return { headers: { authorization: `bearer ${token}` }, secret: token };
    },
    expect: ok(),
  },
  {
    name: 'same token twice: the second is a token-cache hit',
    before: async ({ app }) => {
      await sendOk(app, bearer(await cachedToken));
    },
    request: async () => bearer(await cachedToken),
    expect: ok(),
  },
];
