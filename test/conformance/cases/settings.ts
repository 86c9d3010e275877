// Gate settings visible over HTTP: the realm and the log level of each code.
import { claims, sign } from '@tokengate/test-fixtures/tokens';
import type { Case } from './case.js';
import { es256Hints, loggedAt, missing, rejected } from './expect.js';
import { bearer } from './requests.js';

export const settingCases: Case[] = [
  {
    name: 'realm is named in the challenge',
    options: () => ({ realm: 'orders' }),
    request: async () => ({}),
    expect: { ...missing, challenge: 'Bearer realm="orders"' },
  },
  {
    name: 'logLevels: token_missing silenced',
    options: () => ({ logLevels: { token_missing: 'silent' } }),
    request: async () => ({}),
    expect: { ...missing, log: undefined },
  },
  {
    name: 'logLevels: token_missing raised to warn',
    options: () => ({ logLevels: { token_missing: 'warn' } }),
    request: async () => ({}),
    expect: loggedAt('warn', missing),
  },
  {
    name: 'logLevels: token_expired at error',
    options: () => ({ logLevels: { token_expired: 'error' } }),
    request: async ({ clock }) => bearer(await sign(claims({ exp: clock.now() - 6 }))),
    expect: loggedAt('error', rejected('token_expired', 'token has expired', es256Hints())),
  },
];
