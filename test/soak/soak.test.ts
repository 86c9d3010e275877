// The 30 s version of `pnpm soak` (issue 19): each misbehaviour of the key server once, a new key
// published during each outage, Express 5, Koa 3 and Fastify 5 receivers at a modest rate.
// Asserts correctness figures only, never timings.
import { describe, expect, it } from 'vitest';
import { runSoak, totals } from './soak.js';
import type { Schedule } from './soak.js';

// Healthy stretches of at least 5 s so the avoidable-refusal rule is exercised; each new key
// (at 9, 18 and 27 s) appears while the server misbehaves and must be fetched once it recovers.
const schedule: Schedule = {
  phases: [
    { at: 0, mode: 'healthy' },
    { at: 8, mode: '503' },
    { at: 10, mode: 'healthy' },
    { at: 16, mode: 'hang' },
    { at: 19, mode: 'healthy' },
    { at: 25, mode: 'broken' },
    { at: 26, mode: 'reset' },
    { at: 27, mode: 'slow' },
    { at: 29, mode: 'healthy' },
  ],
  rotateEvery: 9,
  removeAfter: 4.5,
};

describe('soak: a flapping, rotating key server and three receivers', () => {
  it('accepts no invalid token, refuses no avoidable one, answers no 5xx', async () => {
    const result = await runSoak({ duration: 30, rate: 40, schedule });
    const t = totals(result);
    expect(t).toMatchObject({
      invalidAccepted: 0,
      validRefusedAvoidable: 0,
      status5xx: 0,
      noAnswer: 0,
    });
    expect(result.unhandled).toBe(0);
    // The run exercised what it claims to: failures, revalidations, and requests that counted.
    expect(t.failedOnPurpose).toBeGreaterThan(0);
    expect(t.notModified).toBeGreaterThan(0);
    expect(t.validEligible).toBeGreaterThan(0);
    for (const r of result.receivers) expect(r.invalidRefused).toBeGreaterThan(0);
  }, 120_000);
});
