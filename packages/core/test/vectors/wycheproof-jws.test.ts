import { afterAll, describe, expect, it } from 'vitest';
import { createTally, loadWycheproof } from './load.js';
import type { WycheproofCase } from './load.js';
import { viaJose, viaSignatureLayer } from './layers.js';
import type { SignatureOutcome as Outcome } from './layers.js';

// Wycheproof json_web_signature_test.json through the signature layer (parseToken →
// importVerificationKey → keyFitsAlg → verifySignature), and through jose as the reference.

const cases = loadWycheproof('json_web_signature_test.json');
const byId = new Map(cases.map((c) => [c.tcId, c]));

interface Departure {
  /** What tokengate does instead of the file's `result`. */
  outcome: Outcome;
  reason: string;
}

/**
 * Deliberate departures from the file's `result`, each with its reason (see
 * test/vectors/README.md). Every entry must contradict the file: a departure that the file
 * agrees with is stale and fails the table check below.
 */
const DEPARTURES: Record<number, Departure> = {
  // Data bug upstream: byte-identical to the valid tcId 357 (a bad "format fix" of a Python
  // b'…' literal) yet marked invalid. The same bytes cannot be both; we accept, as for 357.
  367: { outcome: 'accepted', reason: 'data bug: same token as valid tcId 357' },
  370: { outcome: 'accepted', reason: 'data bug: same token as valid tcId 357' },
  // Marked valid, but a '?' sits inside the header / payload segment. RFC 7515 §2 limits
  // base64url to [A-Za-z0-9_-] and RFC 7515 §5.2 says to reject a segment that fails to decode;
  // a lenient decoder that skips the '?' is what the "InvalidCharacter" cases warn about.
  372: { outcome: 'token_malformed', reason: "'?' inside the header segment (RFC 7515 §2)" },
  373: { outcome: 'token_malformed', reason: "'?' inside the payload segment (RFC 7515 §2)" },
  // RFC 7520 figures: the JWK says alg PS256 but the token says PS384. RFC 8725 §3.1: a key is
  // used with one algorithm, so a JWK that names its `alg` verifies only that algorithm (jose
  // agrees).
  346: { outcome: 'alg_mismatch', reason: 'JWK alg PS256, token PS384 (RFC 8725 §3.1)' },
  350: { outcome: 'alg_mismatch', reason: 'JWK alg PS256, token PS384 (RFC 8725 §3.1)' },
  // The JWK says alg "ES521", which is no JWS algorithm (RFC 7518 §3.1 names ES512 for P-521);
  // a key bound to an unknown algorithm fits no token (RFC 7517 §4.4, RFC 8725 §3.1).
  347: { outcome: 'key_rejected', reason: 'JWK alg "ES521" is not a JWS algorithm' },
  351: { outcome: 'key_rejected', reason: 'JWK alg "ES521" is not a JWS algorithm' },
};

/**
 * Cases where jose and our fast path disagree, and why. Everywhere else the two must agree.
 * jose 6 on Node 20 decodes base64url with `atob`, which skips whitespace and ignores non-zero
 * trailing bits, so it accepts these; tokengate checks the compact form strictly (RFC 7515 §2:
 * no whitespace, canonical encoding) before any crypto.
 */
const JOSE_DIFFERENCES: Record<number, string> = {
  360: 'jose skips the spaces inside the signature segment',
  365: 'jose skips the spaces inside the header segment',
  368: 'jose skips the spaces inside the payload segment',
  375: 'jose ignores the non-zero unused bits of the payload segment',
};

/** Rejections that must happen before any signature check: the right layer, not just "no". */
const REFUSED_BEFORE_CRYPTO: { name: string; tcIds: number[]; outcome: Outcome }[] = [
  { name: 'alg none, in any spelling', tcIds: [16, 341, 342, 343, 344], outcome: 'alg_mismatch' },
  { name: 'HS256 keyed with the EC public key', tcIds: [31], outcome: 'alg_mismatch' },
  {
    name: 'RSA / EC key with use enc or key_ops encrypt',
    tcIds: [353, 354, 355, 356],
    outcome: 'key_rejected',
  },
  {
    name: 'JSON serialization, missing or extra parts',
    tcIds: [4, 7, 10, 12, 13, 14, 15, 17],
    outcome: 'token_malformed',
  },
  {
    name: 'non-canonical or non-base64url segments',
    tcIds: [360, 361, 362, 363, 364, 365, 366, 368, 369, 371, 374, 375],
    outcome: 'token_malformed',
  },
];

const tally = createTally('wycheproof JWS');
const disagreements: string[] = [];
let agreements = 0;

afterAll(() => {
  console.log(tally.line());
  console.log(
    `wycheproof JWS vs jose: ${agreements} agree, ${disagreements.length} named differences` +
      (disagreements.length ? `: ${disagreements.join('; ')}` : ''),
  );
});

function expectedOf(c: WycheproofCase): 'accepted' | 'rejected' {
  return c.result === 'valid' ? 'accepted' : 'rejected';
}

describe('wycheproof json_web_signature_test.json', () => {
  it.each(cases)('tcId $tcId $comment ($result)', async (c) => {
    expect(typeof c.jws).toBe('string');
    const outcome = viaSignatureLayer(c.jws!, c.key);
    const accepted = outcome === 'accepted';
    const departure = DEPARTURES[c.tcId];
    const expected = expectedOf(c);
    if (departure) {
      tally.record(c.tcId, outcome === departure.outcome ? 'departure' : 'unexplained', outcome);
      expect(outcome, departure.reason).toBe(departure.outcome);
    } else {
      tally.record(
        c.tcId,
        (accepted ? 'accepted' : 'rejected') === expected ? 'passed' : 'unexplained',
        outcome,
      );
      expect(accepted ? 'accepted' : 'rejected', `outcome ${outcome}`).toBe(expected);
    }

    const joseAccepted = await viaJose(c.jws!, c.key);
    const difference = JOSE_DIFFERENCES[c.tcId];
    if (difference) {
      disagreements.push(`${c.tcId} jose ${joseAccepted ? 'accepts' : 'rejects'} (${difference})`);
      // The named difference is one-sided: jose accepts, we refuse. Never the other way round.
      expect({ jose: joseAccepted, ours: accepted }, difference).toEqual({
        jose: true,
        ours: false,
      });
    } else {
      expect(accepted, `our fast path says ${outcome}, jose says ${joseAccepted}`).toBe(
        joseAccepted,
      );
      agreements++;
    }
  });

  it.each(REFUSED_BEFORE_CRYPTO)(
    'refuses $name before any signature check',
    ({ tcIds, outcome }) => {
      for (const id of tcIds) {
        const c = byId.get(id)!;
        expect(c.result, `tcId ${id}`).toBe('invalid');
        expect(viaSignatureLayer(c.jws!, c.key), `tcId ${id}`).toBe(outcome);
      }
    },
  );

  it('departures contradict the file, and the data-bug cases are the valid token', () => {
    for (const [id, d] of Object.entries(DEPARTURES)) {
      const c = byId.get(Number(id));
      expect(c, `tcId ${id} exists`).toBeDefined();
      expect(d.outcome === 'accepted' ? 'accepted' : 'rejected', `tcId ${id} is stale`).not.toBe(
        expectedOf(c!),
      );
    }
    expect(byId.get(367)!.jws).toBe(byId.get(357)!.jws);
    expect(byId.get(370)!.jws).toBe(byId.get(357)!.jws);
    expect(byId.get(357)!.result).toBe('valid');
    for (const id of Object.keys(JOSE_DIFFERENCES)) expect(byId.get(Number(id))).toBeDefined();
  });

  it('has no unexplained case', () => {
    expect(tally.size).toBe(cases.length);
    expect(tally.unexplained()).toEqual([]);
    expect(tally.count('unexplained')).toBe(0);
  });
});
