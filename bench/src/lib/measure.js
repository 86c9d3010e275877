import { hrtime } from 'node:process';

// Results fold into this so the optimiser cannot drop a call whose value is never read.
let sink = 0;
export const consume = () => sink;

const NS = 1_000_000n;

/** Calls `fn(i)` in batches until `ms` have passed; returns operations per second. */
export function timeSync(fn, ms) {
  let batch = 1;
  let n = 0;
  const start = hrtime.bigint();
  const end = start + BigInt(Math.round(ms)) * NS;
  let now = start;
  while (now < end) {
    const t0 = now;
    for (let i = 0; i < batch; i++) sink ^= fn(n + i) ? 1 : 0;
    n += batch;
    now = hrtime.bigint();
    // Batches of about a millisecond: the clock read stays out of the measured work.
    if (now - t0 < NS && batch < 1 << 20) batch *= 2;
  }
  return (n * 1e9) / Number(now - start);
}

/** Awaits `fn(i)` one call at a time until `ms` have passed; returns operations per second. */
export async function timeAsync(fn, ms) {
  let batch = 1;
  let n = 0;
  const start = hrtime.bigint();
  const end = start + BigInt(Math.round(ms)) * NS;
  let now = start;
  while (now < end) {
    const t0 = now;
    for (let i = 0; i < batch; i++) sink ^= (await fn(n + i)) ? 1 : 0;
    n += batch;
    now = hrtime.bigint();
    if (now - t0 < NS && batch < 1 << 20) batch *= 2;
  }
  return (n * 1e9) / Number(now - start);
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Half the range, as a fraction of the median: `0.04` prints as ±4%. */
export function spread(values) {
  const m = median(values);
  return m === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / 2 / m;
}

/** A fixed pseudo-random index sequence (xorshift), so every run draws the same access order. */
export function randomIndices(count, size = 1 << 20) {
  const out = new Uint32Array(size);
  let x = 2463534242;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) % count;
  }
  return out;
}
