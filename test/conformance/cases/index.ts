// THE conformance table: one behaviour per row, asserted identically for every adapter
// (drivers.ts, run by conformance.test.ts). Rows live in one file per topic; to add one, see
// test/README.md.
import { acceptedCases } from './accepted.js';
import type { Case } from './case.js';
import { credentialCases } from './credentials.js';
import { dpopCases } from './dpop.js';
import { keyServerCases } from './key-server.js';
import { mtlsCases } from './mtls.js';
import { passedErrorCases } from './pass-errors.js';
import { rejectedCases } from './rejected.js';
import { requestUrlCases } from './request-url.js';
import { revocationCases } from './revocation.js';
import { scopeCases } from './scopes.js';
import { settingCases } from './settings.js';

export { handlerBody } from './case.js';
export type { Case, CaseEnv, Expected, OptionsEnv, Outgoing } from './case.js';

export const cases: Case[] = [
  ...acceptedCases,
  ...credentialCases,
  ...rejectedCases,
  ...scopeCases,
  ...keyServerCases,
  ...settingCases,
  ...passedErrorCases,
  ...dpopCases,
  ...mtlsCases,
  ...requestUrlCases,
  ...revocationCases,
];
