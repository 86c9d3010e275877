import { createVerifier } from '@tokengate/core';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { prometheusMetrics } from './metrics.js';

const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
const sign = (claims) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
const options = { issuer: 'https://i.example/', audience: 'api', keys: [jwk], now: () => 1e9 };
const good = { iss: options.issuer, aud: 'api', exp: 1e9 + 60 };

describe('the Prometheus telemetry example', () => {
  it('counts verified, cached and rejected tokens through onEvent', async () => {
    const metrics = prometheusMetrics();
    const verifier = createVerifier({ ...options, onEvent: metrics.onEvent });
    const token = await sign(good);
    await verifier.verify(token);
    await verifier.verify(token);
    await verifier.verify(await sign({ ...good, aud: 'other' })).catch(() => {});
    expect(metrics.render()).toBe(
      [
        '# HELP tokengate_tokens_verified_total Tokens verified (signature and claims checked).',
        '# TYPE tokengate_tokens_verified_total counter',
        'tokengate_tokens_verified_total{nested="false"} 1',
        '# HELP tokengate_tokens_rejected_total Tokens rejected, by error code.',
        '# TYPE tokengate_tokens_rejected_total counter',
        'tokengate_tokens_rejected_total{code="audience_mismatch"} 1',
        '# HELP tokengate_cache_hits_total Requests answered from the verified-token cache.',
        '# TYPE tokengate_cache_hits_total counter',
        'tokengate_cache_hits_total 1',
        '',
      ].join('\n'),
    );
  });

  it('hears every verifier in the process through the diagnostics channel', async () => {
    const metrics = prometheusMetrics();
    const stop = metrics.listen();
    try {
      await createVerifier(options).verify(await sign(good));
      await createVerifier(options)
        .verify('not-a-token')
        .catch(() => {});
    } finally {
      stop();
    }
    await createVerifier(options).verify(await sign(good)); // after stop(): not counted
    const text = metrics.render();
    expect(text).toContain('tokengate_tokens_verified_total{nested="false"} 1\n');
    expect(text).toContain('tokengate_tokens_rejected_total{code="token_malformed"} 1\n');
  });

  it('counts stale-key episodes and recoveries, one each per episode', () => {
    const metrics = prometheusMetrics();
    const uri = 'https://i.example/jwks';
    metrics.onEvent({ type: 'jwks.stale_served', uri, ageSeconds: 310 });
    metrics.onEvent({ type: 'jwks.recovered', uri, staleSeconds: 12 });
    const text = metrics.render();
    expect(text).toContain('tokengate_jwks_stale_served_total 1\n');
    expect(text).toContain('tokengate_jwks_recovered_total 1\n');
  });
});
