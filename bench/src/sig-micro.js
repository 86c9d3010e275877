// node --expose-gc src/sig-micro.js [--rounds=5] [--ms=300]
//
// The uncached signature rows of the micro section alone (RS256, ES256, EdDSA), in this
// process, printed as same-run ratios: tokengate against the node:crypto.verify floor and
// against fast-jwt. A focused loop for work on token/compact.ts and friends; `pnpm bench`
// remains the figure of record.
import { run } from './micro.js';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => a.slice(2).split('=')),
);
const rounds = Number(args.rounds ?? 5);
const ms = Number(args.ms ?? 300);

const { rows } = await run({ only: 'sig', timing: { rounds, ms, warmMs: 200, gcEach: true } });
const byId = new Map(rows.map((r) => [r.id, r]));
const pct = (x) => `±${(x * 100).toFixed(1)}%`;
for (const alg of ['RS256', 'ES256', 'EdDSA']) {
  const floor = byId.get(`floor-${alg}`);
  const ours = byId.get(`tokengate-${alg}`);
  const fast = byId.get(`fast-jwt-${alg}`);
  console.log(
    `${alg.padEnd(6)} floor ${floor.median.toFixed(0).padStart(7)}/s ${pct(floor.spread)}  ` +
      `tokengate ${ours.median.toFixed(0).padStart(7)}/s ${pct(ours.spread)}  ` +
      `fast-jwt ${fast.median.toFixed(0).padStart(7)}/s ${pct(fast.spread)}  ` +
      `tokengate/floor ${(ours.median / floor.median).toFixed(3)}  ` +
      `fast-jwt/floor ${(fast.median / floor.median).toFixed(3)}  ` +
      `tokengate/fast-jwt ${(ours.median / fast.median).toFixed(3)}`,
  );
}
