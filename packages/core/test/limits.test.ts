// Limits that hold by design (issue 13, item 5): how deeply decoded JSON may nest, and how many
// keys one token may try.
import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../src/lib/json.js';
import { createGate } from '../src/index.js';
import type { Gate, GateOptions, VerificationError, VerifierOptions } from '../src/index.js';
import { createClock } from '@tokengate/test-fixtures/clock';
import { createDpopKey, proof } from '@tokengate/test-fixtures/dpop';
import { issuerJwks, signing } from '@tokengate/test-fixtures/keys';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import { AUDIENCE, ISSUER, claims, sign } from '@tokengate/test-fixtures/tokens';
import { craftJws, esHeader } from '../../../test/security/craft.js';
import { harness } from './keys/harness.js';
import { staticVerifier } from './helpers/static-verifier.js';

const { es256 } = signing;

/** JSON text of `levels` arrays nested in one another: `[[…]]`. */
const arrays = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);
/** An object `levels` deep (built without recursion, so any depth can be made). */
function objects(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) value = { n: value };
  return value;
}
/** The fixture claims with one more member, `nested`, given as JSON text. */
const claimsWith = (nested: string): string =>
  `${JSON.stringify(claims()).slice(0, -1)},"nested":${nested}}`;

interface FakeRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
}

/** A gate over a stand-in request (the request is its own raw request and facts). */
function gateWith(options: Partial<GateOptions<FakeRequest>>): Gate<FakeRequest> {
  return createGate<FakeRequest>(
    {
      issuer: ISSUER,
      audience: AUDIENCE,
      now: createClock().now,
      ...options,
    } as GateOptions<FakeRequest>,
    { raw: (req) => req, facts: (req) => req },
  );
}

/** The VerificationError `gate` refuses `req` with. */
async function refusal(gate: Gate<FakeRequest>, req: FakeRequest): Promise<VerificationError> {
  return Promise.resolve()
    .then(() => gate.authenticate(req))
    .then(
      () => Promise.reject(new Error('accepted')),
      (err: unknown) => err as VerificationError,
    );
}

const verifier = staticVerifier;

describe(`decoded JSON nests at most ${MAX_JSON_DEPTH} levels`, () => {
  // The claim set is one level; `nested` adds the rest.
  it(`a validly signed claim set ${MAX_JSON_DEPTH} levels deep verifies, and is frozen all the way down`, async () => {
    const token = craftJws({
      header: esHeader(),
      payload: claimsWith(JSON.stringify(objects(MAX_JSON_DEPTH - 1))),
    });
    const { payload } = await verifier().verify(token);
    let deepest = payload.nested as Record<string, unknown>;
    while (deepest.n) deepest = deepest.n as Record<string, unknown>;
    expect(Object.isFrozen(deepest)).toBe(true);
  });

  const refused: {
    name: string;
    token: () => string;
    reason: string;
    options?: Partial<VerifierOptions>;
  }[] = [
    {
      name: `claims ${MAX_JSON_DEPTH + 1} levels deep`,
      token: () => craftJws({ header: esHeader(), payload: claimsWith(arrays(MAX_JSON_DEPTH)) }),
      reason: `payload nests deeper than ${MAX_JSON_DEPTH} levels`,
    },
    {
      name: 'claims 10,000 levels deep (maxTokenLength raised to let it in)',
      token: () => craftJws({ header: esHeader(), payload: claimsWith(arrays(9_999)) }),
      reason: `payload nests deeper than ${MAX_JSON_DEPTH} levels`,
      options: { maxTokenLength: 64 * 1024 },
    },
    {
      name: `a header ${MAX_JSON_DEPTH + 1} levels deep`,
      token: () =>
        craftJws({
          header: `${JSON.stringify(esHeader()).slice(0, -1)},"x":${arrays(MAX_JSON_DEPTH)}}`,
          payload: claims(),
        }),
      reason: `header nests deeper than ${MAX_JSON_DEPTH} levels`,
    },
  ];
  it.each(refused)('$name: token_malformed, with that reason', async (c) => {
    const { token, reason, options } = c;
    await expect(verifier(options).verify(token())).rejects.toMatchObject({
      code: 'token_malformed',
      reason,
    });
  });

  it(`a DPoP proof whose header nests ${MAX_JSON_DEPTH + 1} levels is refused`, async () => {
    const client = await createDpopKey();
    const token = await sign(claims({ cnf: { jkt: client.jkt } }));
    const deep = await proof(client, {
      htu: 'http://api.test/orders',
      token,
      header: { x: objects(MAX_JSON_DEPTH) },
    });
    const gate = gateWith({ keys: issuerJwks, dpop: {} });
    const err = await refusal(gate, {
      method: 'GET',
      path: '/orders',
      headers: { host: 'api.test', authorization: `DPoP ${token}`, dpop: deep },
    });
    expect(err).toMatchObject({
      code: 'dpop_proof_invalid',
      reason: `proof is malformed: header nests deeper than ${MAX_JSON_DEPTH} levels`,
    });
  });

  it(`a key set nesting ${MAX_JSON_DEPTH + 1} levels is refused as a whole; ${MAX_JSON_DEPTH} is read`, async () => {
    // The set, its "keys" array and the key take three levels.
    const withMember = (levels: number) => ({
      keys: [{ ...es256.publicJwk, x_ext: objects(levels - 3) }],
    });
    const ok = await harness(withMember(MAX_JSON_DEPTH));
    expect((await ok.jwks.getKey({ kid: es256.kid, alg: 'ES256' })).kid).toBe(es256.kid);
    const deep = await harness(withMember(MAX_JSON_DEPTH + 1));
    const err = await Promise.resolve(deep.jwks.getKeys({ kid: es256.kid, alg: 'ES256' })).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'jwks_unavailable' });
    expect(((err as Error).cause as Error).message).toBe(
      `body nests deeper than ${MAX_JSON_DEPTH} levels`,
    );
  });
});

describe('maxCandidateKeys: how many keys a token without kid may try', () => {
  // Five ES256 keys published without kid: only `alg` chooses among them, in set order.
  const pairs = Array.from({ length: 5 }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  const keys = pairs.map(({ publicKey }) => ({ ...publicKey.export({ format: 'jwk' }) }) as JWK);
  const rogue = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const signedBy = (key: KeyObject) =>
    craftJws({ header: { alg: 'ES256', typ: 'at+jwt' }, payload: claims(), key });

  const cases: {
    name: string;
    options: Partial<VerifierOptions>;
    signer: () => KeyObject;
    want: string;
  }[] = [
    { name: 'the 3rd key, default 3', options: {}, signer: () => pairs[2]!.privateKey, want: 'ok' },
    {
      name: 'the 4th key, default 3',
      options: {},
      signer: () => pairs[3]!.privateKey,
      want: 'too many candidate keys',
    },
    {
      name: 'the 4th key, maxCandidateKeys 4',
      options: { maxCandidateKeys: 4 },
      signer: () => pairs[3]!.privateKey,
      want: 'ok',
    },
    {
      name: 'the 5th key, maxCandidateKeys 4',
      options: { maxCandidateKeys: 4 },
      signer: () => pairs[4]!.privateKey,
      want: 'too many candidate keys',
    },
    {
      name: 'the 5th key, maxCandidateKeys 5',
      options: { maxCandidateKeys: 5 },
      signer: () => pairs[4]!.privateKey,
      want: 'ok',
    },
    {
      name: 'a key of nobody, every key tried (maxCandidateKeys 5)',
      options: { maxCandidateKeys: 5 },
      signer: () => rogue,
      want: 'signature_invalid',
    },
    {
      name: 'a key of nobody, default 3',
      options: {},
      signer: () => rogue,
      want: 'too many candidate keys',
    },
    {
      name: 'maxCandidateKeys inherited by an issuer policy',
      options: {
        maxCandidateKeys: 5,
        issuer: undefined,
        keys: undefined,
        issuers: [{ issuer: ISSUER, keys }],
      },
      signer: () => pairs[4]!.privateKey,
      want: 'ok',
    },
    {
      name: 'maxCandidateKeys set by an issuer policy',
      options: {
        issuer: undefined,
        keys: undefined,
        issuers: [{ issuer: ISSUER, keys, maxCandidateKeys: 5 }],
      },
      signer: () => pairs[4]!.privateKey,
      want: 'ok',
    },
  ];
  it.each(cases)('$name: $want', async ({ options, signer, want }) => {
    const outcome = await verifier({ keys, ...options })
      .verify(signedBy(signer()))
      .then(
        () => 'ok',
        (err: { code: string; reason?: string }) =>
          err.code === 'kid_unknown' ? err.reason : err.code,
      );
    expect(outcome).toBe(want);
  });

  it('the same bound holds for a remote key set', async () => {
    const h = await harness({ keys });
    const remote = verifier({ keys: undefined, keySource: h.jwks });
    await expect(remote.verify(signedBy(pairs[3]!.privateKey))).rejects.toMatchObject({
      code: 'kid_unknown',
      reason: 'too many candidate keys',
    });
  });

  it('the refusal is logged with the reason "too many candidate keys"', async () => {
    const logger = createCapturingLogger();
    const gate = gateWith({ keys, logger });
    const token = signedBy(pairs[3]!.privateKey);
    const req = { method: 'GET', path: '/orders', headers: { authorization: `Bearer ${token}` } };
    gate.reject(await refusal(gate, req), req);
    expect(logger.rejections()).toEqual([
      expect.objectContaining({
        code: 'kid_unknown',
        reason: 'too many candidate keys',
        alg: 'ES256',
        path: '/orders',
      }),
    ]);
  });

  it.each([0, -1, 1.5, '3', Number.NaN])('maxCandidateKeys %j is a start-up TypeError', (value) => {
    expect(() => verifier({ maxCandidateKeys: value as number })).toThrow(
      new TypeError('"maxCandidateKeys" must be a positive integer'),
    );
  });
});
