// passErrors: the framework's error handling answers; status and challenge survive.
import { claims, sign } from '@tokengate/test-fixtures/tokens';
import { reshapedBody } from '../drivers.js';
import type { Case, Expected } from './case.js';
import { es256Hints, forbidden, missing, rejected, unavailable } from './expect.js';
import { bearer, shortLivedKeys } from './requests.js';

/**
 * `expected` as an upstream error handler that reshapes the body answers it: the status,
 * `WWW-Authenticate` (realm and scope included) and `Retry-After` reach the client unchanged,
 * the body is the handler's, and the rejection is still logged once.
 */
const passed = (expected: Expected): Expected => ({
  ...expected,
  body: reshapedBody(expected.log!.code),
});
const base = { upstreamErrorHandler: true };

export const passedErrorCases: Case[] = [
  {
    ...base,
    name: 'passErrors: missing token (realm in the challenge)',
    options: () => ({ passErrors: true, realm: 'orders' }),
    request: async () => ({}),
    expect: passed({ ...missing, challenge: 'Bearer realm="orders"' }),
  },
  {
    ...base,
    name: 'passErrors: expired token',
    options: () => ({ passErrors: true }),
    request: async ({ clock }) => bearer(await sign(claims({ exp: clock.now() - 6 }))),
    expect: passed(rejected('token_expired', 'token has expired', es256Hints())),
  },
  {
    ...base,
    name: 'passErrors: a scope guard refuses (403, scope= in the challenge)',
    options: () => ({ passErrors: true }),
    request: async () => bearer(await sign(claims({ scope: 'orders:read' })), 'write'),
    expect: passed(forbidden('orders:read orders:write')),
  },
  {
    ...base,
    name: 'passErrors: key server down and nothing cached (503, Retry-After)',
    options: () => ({ ...shortLivedKeys, passErrors: true }),
    before: async ({ jwks }) => {
      jwks.down();
    },
    request: async () => bearer(await sign(claims())),
    expect: passed(
      unavailable('jwks_unavailable', 'signing keys are temporarily unavailable', es256Hints()),
    ),
  },
];
