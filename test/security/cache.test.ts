// Attack class: the verified-token cache. No cached result survives its exp (or max age), the
// removal of the key that verified it, or a verifier configured differently; a respelling of a
// cached token never hits; failures are never cached. Every adapter.
import { describe, expect, it } from 'vitest';
import { startJwksServer } from '../fixtures/jwks-server.js';
import { issuerJwks, publicJwks, signing } from '../fixtures/keys.js';
import { NOW, claims } from '../fixtures/tokens.js';
import { craftJws, nonCanonical } from './craft.js';
import { drivers, expectAccepted, expectRefused, startGate, watchFetches } from './harness.js';
import type { Driver, GateServer, NeutralOptions } from './harness.js';

const token = (extra: Record<string, unknown> = {}, key = signing.es256) =>
  craftJws({
    header: { alg: key.alg, kid: key.kid, typ: 'at+jwt' },
    payload: { ...claims(), ...extra },
    key,
  });

async function withGates(
  driver: Driver,
  published: { keys: object[] },
  optionSets: Partial<NeutralOptions>[],
  run: (gates: GateServer[], server: Awaited<ReturnType<typeof startJwksServer>>) => Promise<void>,
): Promise<void> {
  const server = await startJwksServer(published);
  const gates: GateServer[] = [];
  try {
    for (const options of optionSets)
      gates.push(await startGate(driver, { jwks: server, options }));
    await run(gates, server);
  } finally {
    for (const g of gates) await g.close();
    await server.close();
  }
}

describe.each(drivers)('$name', (driver) => {
  it('a cached token is accepted until exp + tolerance and refused at it (RFC 7519 §4.1.4)', () =>
    withGates(driver, issuerJwks, [{}], async ([gate]) => {
      const t = token({ exp: NOW + 10 });
      expectAccepted(gate!, await gate!.send(t));
      gate!.clock.advance(14); // 1 s before exp + 5 s tolerance: still valid, from the cache
      expectAccepted(gate!, await gate!.send(t));
      gate!.clock.advance(1); // now - tolerance == exp: now is no longer before exp
      expectRefused(gate!, await gate!.send(t), 'token_expired');
    }));

  it('a cached token is refused once older than maxTokenAge', () =>
    withGates(driver, issuerJwks, [{ maxTokenAge: 60 }], async ([gate]) => {
      const t = token();
      expectAccepted(gate!, await gate!.send(t));
      gate!.clock.advance(66);
      expectRefused(gate!, await gate!.send(t), 'token_too_old');
    }));

  it('a cached token is refused as soon as an unknown kid brings in a set without its key', () =>
    withGates(driver, issuerJwks, [{}], async ([gate], server) => {
      const t = token({}, signing.rs256);
      expectAccepted(gate!, await gate!.send(t));
      server.setJwks(publicJwks(signing.es256)); // rs256 revoked
      expectRefused(
        gate!,
        await gate!.send(token({}, { ...signing.es256, kid: 'new' })),
        'kid_unknown',
      );
      expect(server.count()).toBe(2);
      expectRefused(gate!, await gate!.send(t), 'kid_unknown');
    }));

  it('a cached token is refused once a stale set is revalidated without its key', async () => {
    const watch = watchFetches();
    await withGates(
      driver,
      issuerJwks,
      [{ jwks: { maxTtl: 60, ...watch.hooks } }],
      async ([gate], server) => {
        const t = token({ exp: NOW + 600 }, signing.rs256);
        const kept = token({ exp: NOW + 600 });
        expectAccepted(gate!, await gate!.send(t));
        expectAccepted(gate!, await gate!.send(kept));
        server.setJwks(publicJwks(signing.es256, signing.eddsa));
        gate!.clock.advance(61);
        // Answered from the cache while the stale set is revalidated in the background.
        expectAccepted(gate!, await gate!.send(t));
        await watch.until(2);
        expectRefused(gate!, await gate!.send(t), 'kid_unknown');
        // A key that is still published keeps its cached tokens valid across the rotation.
        expectAccepted(gate!, await gate!.send(kept));
        expect(server.count()).toBe(2);
      },
    );
  });

  it('a token cached by one verifier is judged afresh by a verifier configured differently', () =>
    withGates(
      driver,
      issuerJwks,
      [
        {},
        { audience: 'api://billing' },
        { algorithms: ['ES256'] },
        { maxTokenAge: 1 },
        { issuer: 'https://other.issuer.test/' },
        { requiredClaims: ['tenant'] },
      ],
      async ([base, ...others]) => {
        const t = token({}, signing.rs256);
        expectAccepted(base!, await base!.send(t));
        expectAccepted(base!, await base!.send(t)); // cached now
        for (const g of others) g.clock.advance(10); // past maxTokenAge 1 s + 5 s tolerance
        const codes = [
          'audience_mismatch',
          'alg_not_allowed',
          'token_too_old',
          'issuer_mismatch',
          'claim_missing',
        ] as const;
        for (const [i, g] of others.entries()) expectRefused(g, await g.send(t), codes[i]!);
        // And the other way round: what the others refused did not poison the first.
        expectAccepted(base!, await base!.send(t));
      },
    ));

  it('a respelling of a cached token (same bytes, non-canonical base64url) never hits', () =>
    withGates(driver, issuerJwks, [{}], async ([gate]) => {
      // An ES256 signature is 86 characters: its last one carries 4 unused bits.
      const t = token();
      expectAccepted(gate!, await gate!.send(t));
      const [h, p, sig] = t.split('.') as [string, string, string];
      const respelled = `${h}.${p}.${nonCanonical(sig)}`;
      expect(respelled).not.toBe(t);
      expectRefused(gate!, await gate!.send(respelled), 'token_malformed');
      expectRefused(gate!, await gate!.send(`${t}.`), 'token_malformed');
      expectRefused(gate!, await gate!.send(t.slice(0, -1)), 'token_malformed');
      expectAccepted(gate!, await gate!.send(t));
    }));

  it('a failure is never cached: after an outage the same token is accepted', () =>
    withGates(driver, issuerJwks, [{}], async ([gate], server) => {
      const t = token();
      server.down('error');
      expectRefused(gate!, await gate!.send(t), 'jwks_unavailable');
      server.up();
      gate!.clock.advance(2); // past the first backoff step
      expectAccepted(gate!, await gate!.send(t));
    }));

  it('a token refused as expired is accepted by a gate whose clock says it is not', () =>
    withGates(driver, issuerJwks, [{}, {}], async ([late, early]) => {
      const t = token({ exp: NOW + 10 });
      late!.clock.advance(20);
      expectRefused(late!, await late!.send(t), 'token_expired');
      expectAccepted(early!, await early!.send(t));
    }));
});
