// A verifier over the fixtures' issuer keys, given as a static set: no key server, no token
// cache (every call verifies), a fixed fake clock. `extra` overrides any option.
import { createClock } from '@tokengate/test-fixtures/clock';
import { issuerJwks } from '@tokengate/test-fixtures/keys';
import { AUDIENCE, ISSUER } from '@tokengate/test-fixtures/tokens';
import { createVerifier } from '../../src/index.js';
import type { VerifierOptions } from '../../src/index.js';

export function staticVerifier(extra: Partial<VerifierOptions> = {}) {
  return createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: issuerJwks,
    now: createClock().now,
    tokenCache: false,
    ...extra,
  } as VerifierOptions);
}
