// A bounded soak (about 9 s of load, loopback only): the three adapters serve concurrent traffic
// (valid tokens of a rotating issuer, unknown kids, garbage) while the key server is steady,
// flaps between good and broken, rotates in a new key, goes down, and comes back without the
// old key. Asserted: every request answered; no 5xx; no valid token refused while its key is
// cached; no unhandled rejection; the heap back near its baseline afterwards.
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClock } from '../fixtures/clock.js';
import { startJwksServer } from '../fixtures/jwks-server.js';
import type { JwksServer } from '../fixtures/jwks-server.js';
import { createSigningKey, publicJwks, signing } from '../fixtures/keys.js';
import type { SigningKeyPair } from '../fixtures/keys.js';
import { NOW, claims } from '../fixtures/tokens.js';
import { craftJws, esHeader } from './craft.js';
import { PATH, drivers, floodAgent, send, startGate } from './harness.js';
import type { GateServer } from './harness.js';

// A real collection, so "back to baseline" is measured rather than guessed.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as (() => void) | undefined;
function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) collect?.();
  return process.memoryUsage().heapUsed;
}

const K1 = signing.es256;
const K2 = await createSigningKey('ES256', 'es256-rotated');
// Real clients resend the same token for minutes: a pool per key, valid for the whole soak.
const pool = (key: SigningKeyPair) =>
  Array.from({ length: 20 }, (_, i) =>
    craftJws({
      header: { alg: 'ES256', kid: key.kid, typ: 'at+jwt' },
      payload: claims({ sub: `user-${i}`, exp: NOW + 3 * 3600 }),
      key,
    }),
  );
const tokens = { k1: pool(K1), k2: pool(K2) };
const body = tokens.k1[0]!.split('.').slice(1).join('.');
const unknownKid = () =>
  `${Buffer.from(JSON.stringify(esHeader({ kid: randomBytes(8).toString('hex') }))).toString('base64url')}.${body}`;
const garbage = () => [12, 40, 64].map((n) => randomBytes(n).toString('base64url')).join('.');

type Phase = 'steady' | 'flapping' | 'rotation' | 'down' | 'recovered';
type Kind = 'k1' | 'k2' | 'unknown' | 'garbage';

describe('soak: three adapters, a key server that flaps, rotates and goes down', () => {
  let server: JwksServer;
  const gates: GateServer[] = [];
  const clock = createClock();
  let unhandled = 0;
  const onUnhandled = () => void unhandled++;

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    server = await startJwksServer(publicJwks(K1));
    for (const driver of drivers) {
      gates.push(
        await startGate(driver, {
          jwks: server,
          clock,
          options: { jwks: { maxTtl: 60, timeout: 0.5 } },
        }),
      );
    }
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    for (const g of gates) await g.close();
    await server?.close();
  });

  it('answers every request, refuses no cached-key token, leaks nothing', async () => {
    const agent = floodAgent(48);
    let phase: Phase = 'steady';
    let flip = false;
    server.setHandler(() => (phase === 'flapping' && (flip = !flip) ? { status: 500 } : undefined));
    // Counted as they happen: keeping 50,000 outcomes would itself move the heap.
    const summary = {
      requests: 0,
      unanswered: 0,
      serverErrors: 0,
      // K1 is published and cached until the recovered server drops it.
      k1Refused: 0,
      // K2 must verify from the moment an app has accepted it once.
      k2RefusedWhileCached: 0,
      hostileAccepted: 0,
      k1AfterRevocation: 0,
      refused: 0,
      unhandled: 0,
    };
    const k2Seen = new Set<string>();
    let running = true;

    // Warm-up (first key fetch, sockets, JIT-compiled hot paths), then the baseline.
    for (const g of gates) {
      const warm = [
        ...tokens.k1,
        ...Array.from({ length: 100 }, unknownKid),
        ...Array.from({ length: 100 }, garbage),
      ];
      for (let i = 0; i < 3; i++) {
        await Promise.all(
          warm.map((t) => send(g.app.origin, PATH, { authorization: `Bearer ${t}` }, agent)),
        );
      }
    }
    for (const g of gates) g.logger.entries.length = 0;
    const baseline = heapAfterGc();
    let peak = baseline;

    const worker = async (gate: GateServer, id: number): Promise<void> => {
      for (let i = id; running; i++) {
        const roll = i % 10;
        const rotated = phase === 'rotation' || phase === 'down' || phase === 'recovered';
        const kind: Kind =
          roll < 5
            ? 'k1'
            : roll < 7 && rotated
              ? 'k2'
              : roll < 8
                ? 'unknown'
                : roll < 9
                  ? 'garbage'
                  : 'k1';
        const token =
          kind === 'k1'
            ? tokens.k1[i % 20]!
            : kind === 'k2'
              ? tokens.k2[i % 20]!
              : kind === 'unknown'
                ? unknownKid()
                : garbage();
        const sentIn = phase;
        const k2Cached = k2Seen.has(gate.driver.name);
        let status: number | 'error';
        try {
          status = (await send(gate.app.origin, PATH, { authorization: `Bearer ${token}` }, agent))
            .status;
        } catch {
          status = 'error';
        }
        summary.requests++;
        if (status !== 200) summary.refused++;
        if (status === 'error') summary.unanswered++;
        else if (status >= 500) summary.serverErrors++;
        if (kind === 'k1' && sentIn !== 'recovered' && status !== 200) summary.k1Refused++;
        if (kind === 'k1' && sentIn === 'recovered' && status === 401) summary.k1AfterRevocation++;
        if (kind === 'k2' && k2Cached && status !== 200) summary.k2RefusedWhileCached++;
        if ((kind === 'unknown' || kind === 'garbage') && status !== 401) summary.hostileAccepted++;
        if (kind === 'k2' && status === 200) k2Seen.add(gate.driver.name);
      }
    };
    const workers = gates.flatMap((g) => Array.from({ length: 8 }, (_, i) => worker(g, i)));

    const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    let steps = 0;
    // Each step moves the clock past maxTtl: the keys go stale and are revalidated.
    const run = async (next: Phase, ms: number, advance: boolean) => {
      phase = next;
      for (const end = Date.now() + ms; Date.now() < end;) {
        await wait(200);
        if (advance) {
          clock.advance(61);
          steps++;
        }
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
    };
    await run('steady', 1500, false);
    await run('flapping', 2000, true);
    server.setJwks(publicJwks(K1, K2));
    await run('rotation', 1500, true);
    server.down('destroy');
    await run('down', 2000, true);
    server.setJwks(publicJwks(K2)); // K1 revoked
    server.up();
    await run('recovered', 2000, true);
    running = false;
    await Promise.all(workers);
    agent.destroy();

    summary.unhandled = unhandled;
    expect(summary).toMatchObject({
      unanswered: 0,
      serverErrors: 0,
      k1Refused: 0,
      k2RefusedWhileCached: 0,
      hostileAccepted: 0,
      unhandled: 0,
    });
    expect(summary.requests).toBeGreaterThan(3000);
    // Every app picked up the new key, and stopped accepting the revoked one.
    expect([...k2Seen].sort()).toEqual(drivers.map((d) => d.name).sort());
    expect(summary.k1AfterRevocation).toBeGreaterThan(0);
    // The key server was asked a bounded number of times: per app and clock step, at most one
    // background revalidation and one forced refresh (plus the first load).
    expect(server.count()).toBeLessThanOrEqual(gates.length * (2 * steps + 2));

    // Exactly one rejection record per refused request, under load too.
    const records = gates.reduce((n, g) => n + g.logger.rejections().length, 0);
    expect(records).toBe(summary.refused);
    for (const g of gates) g.logger.entries.length = 0;

    // Rejected traffic leaves nothing behind: the heap returns near its baseline.
    const after = heapAfterGc();
    const slack = collect ? 8 << 20 : 96 << 20;
    expect(after - baseline).toBeLessThan(slack);
    expect(peak - baseline).toBeLessThan(256 << 20);
  });
});
