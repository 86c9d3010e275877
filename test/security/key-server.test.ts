// Attack class: the issuer's key server misbehaves or is hostile (RFC 8725 §3.10, issue 3 §7).
// For each behaviour: how many requests it caused and what the API answered, in every adapter.
// Cold: no keys yet, so 503 jwks_unavailable, one request, then no request during the backoff.
// Warm: keys cached, so 200 from the stale keys while one background refresh fails.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '@tokengate/core';
import { createClock } from '@tokengate/test-fixtures/clock';
import { startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import type { JwksServer, ScriptedResponse } from '@tokengate/test-fixtures/jwks-server';
import { encryption, issuerJwks, rogueKey, signing } from '@tokengate/test-fixtures/keys';
import { createCapturingLogger } from '@tokengate/test-fixtures/logger';
import { AUDIENCE, ISSUER, claims } from '@tokengate/test-fixtures/tokens';
import { craftJws, esHeader } from './craft.js';
import {
  drivers,
  expectAccepted,
  expectRefused,
  floodAgent,
  pool,
  send,
  startGatedApp,
  tally,
  watchFetches,
  PATH,
} from './harness.js';
import type { Driver, FetchWatch, GatedApp } from './harness.js';

// The attacker's origin: a key server that must never be contacted.
let elsewhere: JwksServer;
beforeAll(async () => {
  elsewhere = await startJwksServer({ keys: [rogueKey.publicJwk] });
});
afterAll(() => elsewhere?.close());

const TIMEOUT = 0.3; // seconds: the trickling and slow servers are given up on after this

/** A fresh token, valid at the gate's clock. */
const tokenAt = (gate: GatedApp, key = signing.es256) =>
  craftJws({
    header: { alg: key.alg, kid: key.kid, typ: 'at+jwt' },
    payload: claims({}, gate.clock.now()),
    key,
  });

interface Scenario {
  server: JwksServer;
  gate: GatedApp;
  watch: FetchWatch;
  close(): Promise<void>;
}

async function scenario(
  driver: Driver,
  published: { keys: object[] } = issuerJwks,
  jwks: Record<string, unknown> = {},
): Promise<Scenario> {
  const server = await startJwksServer(published);
  const watch = watchFetches();
  const gate = await startGatedApp(driver, {
    jwks: server,
    options: { jwks: { timeout: TIMEOUT, maxTtl: 60, ...watch.hooks, ...jwks } },
  });
  return {
    server,
    gate,
    watch,
    async close() {
      await gate.close();
      await server.close();
    },
  };
}

const hostile: [string, () => ScriptedResponse][] = [
  ['oversized (2 MiB streamed, limit 512 KiB)', () => ({ huge: 2 << 20 })],
  [
    'oversized (Content-Length 600 KiB)',
    () => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: ' '.repeat(600 << 10),
    }),
  ],
  ['slow-dripping (one byte every 20 ms)', () => ({ trickle: { intervalMs: 20 } })],
  ['slow to answer (1 s)', () => ({ delayMs: 1000 })],
  ['redirecting to another origin', () => ({ redirect: elsewhere.url })],
  [
    'not JSON (an HTML page)',
    () => ({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>login</html>' }),
  ],
  ['not UTF-8', () => ({ status: 200, body: Buffer.from([0x7b, 0xff, 0x7d]) })],
  ['JSON, not a key set ("keys" a string)', () => ({ body: { keys: 'RS256' } })],
  ['JSON, not a key set (an array)', () => ({ body: [signing.es256.publicJwk] })],
  ['JSON, an empty key set', () => ({ body: { keys: [] } })],
  ['JSON, only encryption keys', () => ({ body: { keys: [encryption.rsaOaep.publicJwk] } })],
  [
    'JSON, only broken keys',
    () => ({ body: { keys: [{ kty: 'RSA' }, { kty: 'EC', crv: 'P-256' }] } }),
  ],
  ['HTTP 500', () => ({ status: 500, body: 'oops' })],
  ['HTTP 404', () => ({ status: 404, body: 'not found' })],
  ['connection dropped', () => ({ destroy: true })],
];

// The signature is never checked: an unknown kid fails before it.
const unsignedBody = craftJws({ header: esHeader(), payload: claims() })
  .split('.')
  .slice(1)
  .join('.');
function randomKidToken(): string {
  const header = JSON.stringify(esHeader({ kid: randomBytes(12).toString('hex') }));
  return `${Buffer.from(header).toString('base64url')}.${unsignedBody}`;
}

describe('unknown-kid flood against core: 10,000 kids at once', () => {
  it('one forced refresh per cooldown; every verification kid_unknown', async () => {
    const server = await startJwksServer(issuerJwks);
    const clock = createClock();
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUri: server.url,
      now: clock.now,
      logger: createCapturingLogger(),
      // Each verification waits for the refresh it joined, so the request count below is read
      // after the fetch, however loaded the machine (the default 2 s wait could end first).
      jwks: { maxWait: 60 },
    });
    const codes = async (count: number) => {
      const settled = await Promise.allSettled(
        Array.from({ length: count }, () => verifier.verify(randomKidToken())),
      );
      const seen: Record<string, number> = {};
      for (const r of settled) {
        const code = r.status === 'rejected' ? (r.reason as { code: string }).code : 'accepted';
        seen[code] = (seen[code] ?? 0) + 1;
      }
      return seen;
    };
    try {
      await verifier.ready();
      expect(server.count()).toBe(1);
      expect(await codes(10_000)).toEqual({ kid_unknown: 10_000 });
      expect(server.count()).toBe(2);
      expect(await codes(10_000)).toEqual({ kid_unknown: 10_000 });
      expect(server.count()).toBe(2); // still cooling down
      clock.advance(31);
      expect(await codes(10_000)).toEqual({ kid_unknown: 10_000 });
      expect(server.count()).toBe(3);
    } finally {
      await server.close();
    }
  });
});

describe.each(drivers)('$name', (driver) => {
  describe('cold cache, hostile key server: 503, one request, none during the backoff', () => {
    it.each(hostile)('%s', async (_what, reply) => {
      const s = await scenario(driver);
      try {
        s.server.setHandler(reply);
        const first = await s.gate.send(tokenAt(s.gate));
        expectRefused(s.gate, first, 'jwks_unavailable');
        expect(first.headers['retry-after']).toBe('30');
        expect(s.server.count()).toBe(1);
        const second = await s.gate.send(tokenAt(s.gate));
        expectRefused(s.gate, second, 'jwks_unavailable');
        expect(s.server.count()).toBe(1);
        expect(elsewhere.count()).toBe(0);
      } finally {
        await s.close();
      }
    });

    it('a redirect loop on the same origin: three requests (two hops), then 503', async () => {
      const s = await scenario(driver);
      try {
        s.server.setHandler(() => ({ redirect: '/.well-known/jwks.json' }));
        expectRefused(s.gate, await s.gate.send(tokenAt(s.gate)), 'jwks_unavailable');
        expect(s.server.count()).toBe(3);
      } finally {
        await s.close();
      }
    });
  });

  describe('warm cache, the key server turns hostile: 200 from stale keys, one failed refresh', () => {
    it.each(hostile)('%s', async (_what, reply) => {
      const s = await scenario(driver);
      try {
        expectAccepted(s.gate, await s.gate.send(tokenAt(s.gate)));
        s.server.setHandler(reply);
        s.gate.clock.advance(61); // past maxTtl: stale, still within maxStale
        expectAccepted(s.gate, await s.gate.send(tokenAt(s.gate)));
        await s.watch.until(2);
        expect(s.watch.outcomes).toEqual(['ok', 'error']);
        expect(s.server.count()).toBe(2);
        // Backing off: more requests are answered from the stale keys without asking again.
        expectAccepted(s.gate, await s.gate.send(tokenAt(s.gate)));
        expect(s.server.count()).toBe(2);
        expect(elsewhere.count()).toBe(0);
      } finally {
        await s.close();
      }
    });
  });

  it('mixed use: a signing kid published as use "enc" never verifies; one forced refresh', async () => {
    const s = await scenario(driver, {
      keys: [
        { ...signing.es256.publicJwk, use: 'enc' },
        signing.rs256.publicJwk,
        encryption.rsaOaep.publicJwk,
      ],
    });
    try {
      expectRefused(s.gate, await s.gate.send(tokenAt(s.gate)), 'kid_unknown');
      expectAccepted(s.gate, await s.gate.send(tokenAt(s.gate, signing.rs256)));
      expectRefused(s.gate, await s.gate.send(tokenAt(s.gate)), 'kid_unknown');
      // The load, then one refresh for the kid that was not usable; the cooldown holds after.
      expect(s.server.count()).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('duplicate kids of different key types resolve by alg; a foreign key under the kid fails', async () => {
    const s = await scenario(driver, {
      keys: [
        { ...signing.es256.publicJwk, kid: 'dup' },
        { ...signing.rs256.publicJwk, kid: 'dup' },
      ],
    });
    try {
      const as = (key: typeof signing.es256) =>
        craftJws({
          header: { alg: key.alg, kid: 'dup', typ: 'at+jwt' },
          payload: claims({}, s.gate.clock.now()),
          key,
        });
      expectAccepted(s.gate, await s.gate.send(as(signing.es256)));
      expectAccepted(s.gate, await s.gate.send(as(signing.rs256)));
      expectRefused(s.gate, await s.gate.send(as(rogueKey)), 'signature_invalid');
      expect(s.server.count()).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('flapping between good and broken: every valid token accepted, one request per staleness', async () => {
    let n = 0;
    const broken: ScriptedResponse[] = [
      { status: 500 },
      { destroy: true },
      { status: 200, body: 'not json' },
      { body: { keys: [] } },
    ];
    const s = await scenario(driver);
    try {
      s.server.setHandler(() => (n++ % 2 === 0 ? undefined : broken[(n >> 1) % broken.length]));
      const answers: number[] = [];
      for (let i = 0; i < 10; i++) {
        const reply = await s.gate.send(tokenAt(s.gate));
        answers.push(reply.status);
        expectAccepted(s.gate, reply);
        await s.watch.until(i + 1);
        s.gate.clock.advance(61);
      }
      expect(answers).toEqual(new Array(10).fill(200));
      expect(s.server.count()).toBe(10);
      expect(s.watch.outcomes).toEqual([
        'ok',
        'error',
        'ok',
        'error',
        'ok',
        'error',
        'ok',
        'error',
        'ok',
        'error',
      ]);
    } finally {
      await s.close();
    }
  });

  // 2,000 per adapter over HTTP (the adapters add no fetch logic; 10,000 per adapter would cost
  // 20 s of the suite's budget); the 10,000-kid burst runs against core below.
  it('unknown-kid flood: 2,000 kids cause one refresh per cooldown, every answer 401', async () => {
    // maxWait: each answer waits for the refresh it joined, so the count is read after the fetch.
    const s = await scenario(driver, issuerJwks, { maxWait: 60 });
    const agent = floodAgent(32);
    try {
      expectAccepted(s.gate, await s.gate.send(tokenAt(s.gate)));
      expect(s.server.count()).toBe(1);
      const flood = (count: number) =>
        pool(count, 32, () =>
          send(s.gate.app.origin, PATH, { authorization: `Bearer ${randomKidToken()}` }, agent),
        );
      const first = await flood(2_000);
      expect(tally(first)).toEqual({ '401 token signing key is unknown': 2_000 });
      expect(s.server.count()).toBe(2); // the load, then one forced refresh
      s.gate.clock.advance(31); // past the 30 s cooldown, keys still fresh
      const second = await flood(500);
      expect(tally(second)).toEqual({ '401 token signing key is unknown': 500 });
      expect(s.server.count()).toBe(3);
    } finally {
      agent.destroy();
      await s.close();
    }
  });

  it('cold start against a down key server: 1,000 concurrent requests, one request made', async () => {
    const s = await scenario(driver);
    const agent = floodAgent(32);
    try {
      s.server.down('destroy');
      const token = tokenAt(s.gate);
      const replies = await pool(1_000, 32, () =>
        send(s.gate.app.origin, PATH, { authorization: `Bearer ${token}` }, agent),
      );
      expect(tally(replies)).toEqual({ '503 signing keys are temporarily unavailable': 1_000 });
      expect(s.server.count()).toBe(1);
    } finally {
      agent.destroy();
      await s.close();
    }
  });

  it('cold start against a healthy key server: 1,000 concurrent requests, one request made', async () => {
    const s = await scenario(driver);
    const agent = floodAgent(32);
    try {
      const token = tokenAt(s.gate);
      const replies = await pool(1_000, 32, () =>
        send(s.gate.app.origin, PATH, { authorization: `Bearer ${token}` }, agent),
      );
      expect(tally(replies)).toEqual({ '200': 1_000 });
      expect(s.server.count()).toBe(1);
    } finally {
      agent.destroy();
      await s.close();
    }
  });
});
