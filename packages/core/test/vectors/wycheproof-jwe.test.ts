import { afterAll, describe, expect, it } from 'vitest';
import type { VerificationErrorCode } from '../../src/errors.js';
import { isAllowable, viaDecryptionLayer } from './layers.js';
import { createTally, loadWycheproof } from './load.js';

// Wycheproof json_web_encryption_test.json through the decryption layer: options validated by
// normalizeOptions, the JWE opened by createDecryptor (jose's compactDecrypt underneath). Every
// rejection must be a VerificationError (the driver rethrows anything else).

const cases = loadWycheproof('json_web_encryption_test.json', { key: 'decrypt' });
const byId = new Map(cases.map((c) => [c.tcId, c]));

/**
 * Deliberate departures from the file's `result` (all are `valid` cases we refuse by policy).
 * RSA1_5 (RSAES-PKCS1-v1_5) invites Bleichenbacher-style padding oracles (RFC 8725 §3.2); jose 6
 * dropped it and tokengate's allow-list cannot name it. `zip` is refused unless the receiver sets
 * a bound on the inflated size (compression bombs).
 */
const RSA1_5 = 'RSA1_5 is refused by policy (RFC 8725 §3.2: padding oracles)';
const DEPARTURES: Record<number, { code: VerificationErrorCode; reason: string }> = {
  100: { code: 'alg_not_allowed', reason: RSA1_5 },
  101: { code: 'alg_not_allowed', reason: RSA1_5 },
  102: { code: 'alg_not_allowed', reason: RSA1_5 },
  103: { code: 'alg_not_allowed', reason: RSA1_5 },
  104: { code: 'alg_not_allowed', reason: RSA1_5 },
  105: { code: 'alg_not_allowed', reason: RSA1_5 },
  112: { code: 'alg_not_allowed', reason: RSA1_5 },
  128: { code: 'alg_not_allowed', reason: `${RSA1_5} (RFC 7520 Figure 81)` },
  135: {
    code: 'token_malformed',
    reason: '"zip" is refused by default: compression bombs, RFC 8725 §3.6 (RFC 7520 Fig. 170)',
  },
};

const tally = createTally('wycheproof JWE');
afterAll(() => console.log(tally.line()));

describe('wycheproof json_web_encryption_test.json', () => {
  it.each(cases)('tcId $tcId $comment ($result)', async (c) => {
    expect(typeof c.jwe).toBe('string');
    const outcome = await viaDecryptionLayer(c.jwe!, c.key);
    const departure = DEPARTURES[c.tcId];
    const label = 'plaintext' in outcome ? 'decrypted' : outcome.code;
    if (departure) {
      tally.record(c.tcId, label === departure.code ? 'departure' : 'unexplained', label);
      expect(outcome, departure.reason).toEqual({ code: departure.code });
    } else if (c.result === 'valid') {
      const ok = 'plaintext' in outcome && outcome.plaintext === c.pt;
      tally.record(c.tcId, ok ? 'passed' : 'unexplained', label);
      expect(outcome).toEqual({ plaintext: c.pt });
    } else {
      tally.record(c.tcId, 'code' in outcome ? 'passed' : 'unexplained', label);
      expect(outcome).toHaveProperty('code');
    }
  });

  it('refuses an RSA1_5 header on an RSA-OAEP key before any key operation', async () => {
    // Pkcs15WithOaepKey: the allow-list holds only RSA-OAEP(-256), so no decryption is tried.
    for (const id of [94, 95, 96, 97, 98, 99, 110, 111, 122, 123, 124, 125, 126, 127]) {
      const c = byId.get(id)!;
      expect(c.flags, `tcId ${id}`).toContain('Pkcs15WithOaepKey');
      expect(await viaDecryptionLayer(c.jwe!, c.key), `tcId ${id}`).toEqual({
        code: 'alg_not_allowed',
      });
    }
  });

  it('departures contradict the file', () => {
    for (const id of Object.keys(DEPARTURES)) expect(byId.get(Number(id))?.result).toBe('valid');
    expect(isAllowable('keyManagementAlgorithms', 'RSA1_5')).toBe(false);
  });

  it('has no unexplained case', () => {
    expect(tally.size).toBe(cases.length);
    expect(tally.unexplained()).toEqual([]);
  });
});
