// `pnpm soak [--duration 180] [--rate 300]`: runs the key-server soak (soak.js) and prints its
// figures. Exits 1 when a correctness figure fails: an invalid token accepted, an avoidable
// refusal, a 5xx, or a request never answered.
import { parseArgs } from 'node:util';
import { AVOIDABLE_AFTER, MAX_AGE, runSoak, scheduleFor, totals } from './soak.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '180' },
    rate: { type: 'string', default: '300' },
  },
});
const duration = Number(values.duration);
const rate = Number(values.rate);
if (!(duration >= 10 && duration <= 3600) || !(rate >= 1 && rate <= 2000)) {
  console.error('usage: pnpm soak [--duration 10..3600 seconds] [--rate 1..2000 per receiver]');
  process.exit(2);
}

const schedule = scheduleFor(duration);
console.log(`soak: ${duration} s, ${rate} requests/s per receiver, key server max-age=${MAX_AGE}`);
console.log(
  `schedule: ${schedule.phases.map((p) => `${p.at.toFixed(1)}s ${p.mode}`).join(', ')}; ` +
    `new key every ${schedule.rotateEvery.toFixed(1)} s, old one removed ${schedule.removeAfter.toFixed(1)} s later`,
);
const result = await runSoak({ duration, rate, schedule });

const row = (label, pick) =>
  console.log(
    `${label.padEnd(58)}${result.receivers.map((r) => String(pick(r)).padStart(14)).join('')}`,
  );
const mib = (m) => `${m.heapMiB.toFixed(0)}/${m.rssMiB.toFixed(0)}`;
console.log();
row('', (r) => r.receiver);
row('requests sent (shed by the in-flight bound)', (r) => `${r.sent} (${r.shed})`);
row('valid accepted', (r) => r.validAccepted);
row(`valid sent while key served healthy >= ${AVOIDABLE_AFTER} s`, (r) => r.validEligible);
row(
  `valid refused, key served healthy >= ${AVOIDABLE_AFTER} s (avoidable)`,
  (r) => r.validRefusedAvoidable,
);
row('valid refused, the rest', (r) => r.validRefusedOther);
row('invalid accepted', (r) => r.invalidAccepted);
row('invalid refused', (r) => r.invalidRefused);
row('retired-key tokens accepted (removal not yet seen)', (r) => r.retiredAccepted);
row('retired-key tokens refused', (r) => r.retiredRefused);
row('5xx', (r) => r.status5xx);
row('503 while keys were held', (r) => r.status503WithKeys);
row('no answer', (r) => r.noAnswer);
row('key server: requests', (r) => r.keyServer.requests);
row(
  'key server: revalidations (If-None-Match) / 304',
  (r) => `${r.keyServer.conditional}/${r.keyServer.notModified}`,
);
row('key server: 200 / failed on purpose', (r) => `${r.keyServer.ok200}/${r.keyServer.failed}`);
row(
  'latency ms p50 / p99 / max',
  (r) =>
    `${r.latencyMs.p50.toFixed(1)}/${r.latencyMs.p99.toFixed(0)}/${r.latencyMs.max.toFixed(0)}`,
);
row('most requests in flight', (r) => r.maxInFlight);
row('events: jwks.stale_served / jwks.recovered', (r) => `${r.events.stale}/${r.events.recovered}`);
row('events: jwks.fetch ok / error', (r) => `${r.events.fetch}/${r.events.fetchError}`);
for (const kid of Object.keys(result.receivers[0].removalLag)) {
  const at = result.receivers[0].removalLag[kid].removedAt.toFixed(1);
  row(`${kid} removed at ${at} s: first refusal after (s)`, (r) => {
    const lag = r.removalLag[kid];
    if (!lag.held) return 'never held';
    return lag.firstRefusalAfter === null ? 'none' : lag.firstRefusalAfter.toFixed(1);
  });
}
console.log(
  `\nheap/RSS MiB (whole process: key server, 3 receivers, load): start ${mib(result.memory.start)}, ` +
    `middle ${mib(result.memory.middle)}, end ${mib(result.memory.end)}`,
);
console.log(
  `logged: ${result.logs.error} error, ${result.logs.warn} warn records; unhandled rejections: ${result.unhandled}`,
);
console.log('\nrefusals by class and reason:');
for (const r of result.receivers) console.log(`  ${r.receiver}: ${JSON.stringify(r.refusals)}`);

const t = totals(result);
if (t.validEligible === 0) {
  console.log(
    `\nnote: no valid token was sent while the key server had served its key, healthy, for ${AVOIDABLE_AFTER} s;` +
      ' the avoidable-refusal figure says nothing at this --duration (try 120 or more).',
  );
}
const ok =
  t.invalidAccepted === 0 &&
  t.validRefusedAvoidable === 0 &&
  t.status5xx === 0 &&
  t.noAnswer === 0 &&
  result.unhandled === 0;
console.log(
  `\n${ok ? 'PASS' : 'FAIL'}: ${t.invalidAccepted} invalid accepted, ${t.validRefusedAvoidable} avoidable refusals, ` +
    `${t.status5xx} 5xx, ${t.noAnswer} unanswered, ${result.unhandled} unhandled rejections`,
);
process.exitCode = ok ? 0 : 1;
