// node src/sig-micro.js [--rounds=15] [--ms=200]
//
// The uncached signature rows of the micro section (RS256, ES256, EdDSA) alone, as same-run
// ratios: tokengate against the node:crypto.verify floor and against fast-jwt. Each row is timed
// in CPU time of this process (`process.cpuUsage`), not wall time, over many short rounds in
// rotating order, and the median round counts: on a machine shared with other work, wall time
// also measures the neighbours. A focused loop for work on token/compact.ts and friends;
// `pnpm bench` remains the figure of record.
import { signatureGroup } from './micro.js';
import { median } from './lib/measure.js';
import { createVerifier as baseVerifier } from '/tmp/pv/basecore/packages/core/dist/index.js';
import { AUDIENCE } from './lib/tokens.js';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => a.slice(2).split('=')),
);
const rounds = Number(args.rounds ?? 15);
const ms = Number(args.ms ?? 200);
const ROWS = ['floor', 'tokengate', 'fast-jwt', 'base'];

/** Calls `fn` (awaiting it when `async`) for about `ms` of CPU time; returns ops per CPU second. */
async function cpuRate(fn, async, ms) {
  const cpu = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const start = cpu();
  let n = 0;
  let sink = 0;
  while (cpu() - start < ms) {
    for (let i = 0; i < 64; i++) sink ^= (async ? await fn(i) : fn(i)) ? 1 : 0;
    n += 64;
  }
  return sink >= 0 ? (n * 1000) / (cpu() - start) : 0;
}

for (const alg of ['RS256', 'ES256', 'EdDSA']) {
  const group = await signatureGroup(alg);
  {
    const t = group.rows.find((r) => r.id === `tokengate-${alg}`);
    const jwk = JSON.parse(Buffer.from(t.pool[0].split('.')[0], 'base64url'));
    void jwk;
    const base = baseVerifier({
      issuer: 'https://issuer.bench.example/',
      audience: AUDIENCE,
      keys: { keys: [group.key.jwk] },
      tokenCache: false,
    });
    group.rows.push({
      ...t,
      id: `base-${alg}`,
      fn: () => base.verify(t.pool[0]),
      call: (x) => base.verify(x),
    });
  }
  const rows = ROWS.map((name) => group.rows.find((r) => r.id === `${name}-${alg}`));
  for (const r of rows) {
    if (!(await r.call(r.pool[0]))) throw new Error(`${r.id}: the valid token was not accepted`);
    await cpuRate(r.fn, r.async, ms);
  }
  const samples = rows.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < rows.length; k++) {
      const i = (k + round) % rows.length;
      samples[i].push(await cpuRate(rows[i].fn, rows[i].async, ms));
    }
  }
  const [floor, ours, fast, base] = samples.map(median);
  console.log(
    `${alg} base/floor ${(base / floor).toFixed(3)} base µs ${(1e6 / base).toFixed(2)} ours/base ${(ours / base).toFixed(3)}`,
  );
  const us = (rate) => (1e6 / rate).toFixed(2).padStart(6);
  console.log(
    `${alg.padEnd(5)} µs/op (CPU): floor ${us(floor)}  tokengate ${us(ours)}  fast-jwt ${us(fast)}` +
      `  | tokengate/floor ${(ours / floor).toFixed(3)}  fast-jwt/floor ${(fast / floor).toFixed(3)}` +
      `  tokengate/fast-jwt ${(ours / fast).toFixed(3)}`,
  );
}
