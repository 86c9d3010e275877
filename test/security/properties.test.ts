// Property tests (fast-check, fixed seeds): random mutations of valid JWS and JWE tokens (bit
// flips, character changes, segment swaps, splices, header and payload rewrites, truncation)
// are never accepted unless byte-identical to the original, and always end in a
// VerificationError, never another exception. The original is verified first, so every mutant
// also probes the token cache. Then the same through each adapter: never a 5xx except 503
// jwks_unavailable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VERIFICATION_ERROR_CODES, VerificationError, createVerifier } from '@tokengate/core';
import type { Verifier } from '@tokengate/core';
import { createClock } from '../fixtures/clock.js';
import { startJwksServer } from '../fixtures/jwks-server.js';
import type { JwksServer } from '../fixtures/jwks-server.js';
import { decryptionKeys, encryption, issuerJwks, signing } from '../fixtures/keys.js';
import { AUDIENCE, ISSUER, claims, nested, sign } from '../fixtures/tokens.js';
import { b64u } from './craft.js';
import { drivers, startGate } from './harness.js';
import type { GateServer } from './harness.js';

const originals = {
  'JWS ES256': await sign(claims()),
  'JWS RS256': await sign(claims(), { key: signing.rs256 }),
  'JWS EdDSA': await sign(claims(), { key: signing.eddsa }),
  'nested JWE RSA-OAEP-256': await nested(claims()),
  'nested JWE ECDH-ES': await nested(claims(), { encrypt: { to: encryption.ecdhEs } }),
};
// Donor segments for splices: another valid token of each kind.
const donors = [
  await sign(claims({ sub: 'someone-else' })),
  await nested(claims({ sub: 'other' })),
];

type Mutation = { describe: string; apply: (token: string) => string };

const headerValues = fc.constantFrom<unknown>(
  'none',
  'HS256',
  'RS256',
  'ES256',
  'ES384',
  'PS256',
  'EdDSA',
  'RSA-OAEP',
  'dir',
  'A128GCM',
  'at+jwt',
  'JWT',
  '',
  null,
  0,
  true,
  [],
  {},
  ['b64'],
  '__proto__',
  'x'.repeat(300),
);
const headerNames = fc.constantFrom(
  'alg',
  'kid',
  'typ',
  'cty',
  'enc',
  'zip',
  'crit',
  'b64',
  'jwk',
  'jku',
  'x5u',
  'x5c',
  'epk',
  'p2c',
);
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const split = (t: string) => t.split('.');
const decodeJson = (segment: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
};

/** Mutations; `printable` keeps every character one an HTTP header can carry. */
function mutation(printable: boolean): fc.Arbitrary<Mutation> {
  const chars = printable ? alphabet + '.=+/~' : alphabet + '.=+/~ \n\u0000é"\\';
  return fc.oneof(
    fc.record({ seg: fc.nat(4), bit: fc.nat(4096) }).map(({ seg, bit }) => ({
      describe: `flip bit ${bit} of segment ${seg}`,
      apply: (t: string) => {
        const parts = split(t);
        const i = seg % parts.length;
        const bytes = Buffer.from(parts[i]!, 'base64url');
        if (bytes.length === 0) return t;
        const at = bit % (bytes.length * 8);
        bytes[at >> 3]! ^= 1 << (at & 7);
        parts[i] = b64u(bytes);
        return parts.join('.');
      },
    })),
    fc.record({ at: fc.nat(20000), c: fc.constantFrom(...chars) }).map(({ at, c }) => ({
      describe: `set char ${at} to ${JSON.stringify(c)}`,
      apply: (t: string) => {
        const i = at % t.length;
        return t.slice(0, i) + c + t.slice(i + 1);
      },
    })),
    fc.record({ a: fc.nat(4), b: fc.nat(4) }).map(({ a, b }) => ({
      describe: `swap segments ${a} and ${b}`,
      apply: (t: string) => {
        const parts = split(t);
        const [i, j] = [a % parts.length, b % parts.length];
        [parts[i], parts[j]] = [parts[j]!, parts[i]!];
        return parts.join('.');
      },
    })),
    fc.record({ seg: fc.nat(4), op: fc.constantFrom('drop', 'duplicate') }).map(({ seg, op }) => ({
      describe: `${op} segment ${seg}`,
      apply: (t: string) => {
        const parts = split(t);
        const i = seg % parts.length;
        parts.splice(i, op === 'drop' ? 1 : 0, ...(op === 'drop' ? [] : [parts[i]!]));
        return parts.join('.');
      },
    })),
    fc.record({ seg: fc.nat(4), donor: fc.nat(1) }).map(({ seg, donor }) => ({
      describe: `splice segment ${seg} from donor ${donor}`,
      apply: (t: string) => {
        const parts = split(t);
        const from = split(donors[donor]!);
        const i = seg % Math.min(parts.length, from.length);
        parts[i] = from[i]!;
        return parts.join('.');
      },
    })),
    fc
      .record({ name: headerNames, value: headerValues, remove: fc.boolean() })
      .map(({ name, value, remove }) => ({
        describe: `${remove ? 'remove' : 'set'} header ${name}${remove ? '' : ` = ${JSON.stringify(value)}`}`,
        apply: (t: string) => {
          const parts = split(t);
          const header = decodeJson(parts[0]!);
          if (!header) return t;
          if (remove) delete header[name];
          else header[name] = value;
          parts[0] = b64u(JSON.stringify(header));
          return parts.join('.');
        },
      })),
    fc
      .record({
        name: fc.constantFrom('sub', 'aud', 'exp', 'iss', 'scope', 'iat'),
        value: fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null)),
      })
      .map(({ name, value }) => ({
        describe: `set claim ${name} = ${JSON.stringify(value)} (JWS only)`,
        apply: (t: string) => {
          const parts = split(t);
          const payload = parts.length === 3 ? decodeJson(parts[1]!) : undefined;
          if (!payload) return t;
          payload[name] = value;
          parts[1] = b64u(JSON.stringify(payload));
          return parts.join('.');
        },
      })),
    fc
      .record({
        keep: fc.nat(20000),
        extra: fc.string({ unit: fc.constantFrom(...chars), maxLength: 6 }),
      })
      .map(({ keep, extra }) => ({
        describe: `truncate to ${keep} and append ${JSON.stringify(extra)}`,
        apply: (t: string) => t.slice(0, keep % (t.length + 1)) + extra,
      })),
  );
}

const mutated = (printable: boolean) =>
  fc.record({
    name: fc.constantFrom(...(Object.keys(originals) as (keyof typeof originals)[])),
    steps: fc.array(mutation(printable), { minLength: 1, maxLength: 3 }),
  });

const applyAll = (token: string, steps: Mutation[]) => steps.reduce((t, m) => m.apply(t), token);

describe('core: mutated tokens', () => {
  let verifier: Verifier;
  beforeAll(async () => {
    const clock = createClock();
    verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: issuerJwks,
      decryption: { keys: decryptionKeys },
      now: clock.now,
    });
    // Every original verifies, and so sits in the token cache while its mutants arrive.
    for (const token of Object.values(originals)) await verifier.verify(token);
  });

  it('are accepted only when byte-identical, and fail only with a VerificationError (400 runs)', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(mutated(false), async ({ name, steps }) => {
        const original = originals[name];
        const token = applyAll(original, steps);
        const outcome = await verifier.verify(token).then(
          () => 'accepted' as const,
          (err: unknown) => err,
        );
        if (token === original) {
          expect(outcome).toBe('accepted');
          return;
        }
        expect(outcome).toBeInstanceOf(VerificationError);
        const code = (outcome as VerificationError).code;
        expect(VERIFICATION_ERROR_CODES).toContain(code);
        seen.add(code);
      }),
      { numRuns: 400, seed: 20260101 },
    );
    // The mutations reach deep: not everything is stopped at the format check.
    expect(seen.size).toBeGreaterThanOrEqual(5);
  });
});

describe.each(drivers)('$name: mutated tokens over HTTP', (driver) => {
  let jwks: JwksServer;
  let gate: GateServer;
  beforeAll(async () => {
    jwks = await startJwksServer(issuerJwks);
    gate = await startGate(driver, { jwks });
    for (const token of Object.values(originals)) await gate.send(token);
  });
  afterAll(async () => {
    await gate?.close();
    await jwks?.close();
  });

  it('never answer 5xx except 503 jwks_unavailable; 200 only for the original (50 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(true), async ({ name, steps }) => {
        const original = originals[name];
        const token = applyAll(original, steps);
        const reply = await gate.send(token);
        if (reply.status >= 500) {
          expect(reply.status).toBe(503);
          expect(reply.body).toMatchObject({ error: 'temporarily_unavailable' });
        }
        if (token === original) expect(reply.status).toBe(200);
        else expect([400, 401, 503]).toContain(reply.status);
      }),
      { numRuns: 50, seed: 4242 },
    );
  });
});
