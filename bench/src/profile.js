// node src/profile.js [--kind=cpu|heap] [--seconds=10] [--rounds=2] [target ...]
//
// Where a target's server CPU goes, per request: each target (default: fastify-bare and
// fastify-tokengate, alternating) in its own process, warmed, then profiled in-process over a
// reused-token load window only (http/probe.js). Prints self time (cpu) or sampled allocated
// bytes, garbage included (heap), per request, by owner (tokengate, fastify, node, V8, GC)
// and by frame, plus GC pauses from perf_hooks. Figures from a shared machine are noisy.
import { assertTarget, fixtures, jobFor, startLoad, startServer } from './http.js';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => a.slice(2).split('=')),
);
const unknown = Object.keys(args).filter((a) => !['kind', 'seconds', 'rounds'].includes(a));
if (unknown.length || !['cpu', 'heap', undefined].includes(args.kind)) {
  console.error(
    'usage: node src/profile.js [--kind=cpu|heap] [--seconds=10] [--rounds=2] [target ...]',
  );
  process.exit(2);
}
const kind = args.kind ?? 'cpu';
const seconds = Number(args.seconds ?? 10);
const rounds = Number(args.rounds ?? 2);
const targets = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (targets.length === 0) targets.push('fastify-bare', 'fastify-tokengate');

/** Who a frame belongs to, from its script URL. */
function owner({ functionName, url }) {
  if (/^\((garbage collector|program|idle|root)\)$/.test(functionName)) return functionName;
  if (url.includes('/packages/core/')) return 'tokengate core';
  if (/\/packages\/(fastify|express|koa)\//.test(url)) return 'tokengate adapter';
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/bench/')) return 'bench target';
  return url ? url : 'V8 builtins and native';
}

const frameName = ({ functionName, url, lineNumber, columnNumber }) =>
  `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|packages)\//, '')}:${lineNumber + 1}:${columnNumber + 1}`;

/** Self time (µs) per node of a CPU profile, from the sample time deltas. */
function cpuSelf(profile) {
  const self = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
  }
  return profile.nodes.map((node) => ({ frame: node.callFrame, value: self.get(node.id) ?? 0 }));
}

/** Sampled bytes per node of a sampling heap profile (a tree). */
function heapSelf(profile) {
  const out = [];
  const walk = (node) => {
    out.push({ frame: node.callFrame, value: node.selfSize });
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  return out;
}

function add(map, key, value) {
  map.set(key, (map.get(key) ?? 0) + value);
}

function summarise(target, { profile, gc, cpuMicros, systemMicros }, requests) {
  const nodes = kind === 'cpu' ? cpuSelf(profile) : heapSelf(profile);
  const byOwner = new Map();
  const byFrame = new Map();
  for (const { frame, value } of nodes) {
    add(byOwner, owner(frame), value);
    add(byFrame, `${owner(frame)} | ${frameName(frame)}`, value);
  }
  const unit = kind === 'cpu' ? 'µs' : 'B';
  const per = (v) => (v / requests).toFixed(kind === 'cpu' ? 2 : 0);
  const top = (map, n) =>
    [...map]
      .filter(([key]) => !key.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, v]) => `  ${per(v).padStart(8)} ${unit}  ${key}`)
      .join('\n');
  console.log(
    [
      `## ${target}: ${requests} requests, server CPU ${(cpuMicros / requests).toFixed(2)} µs/request (of which in the kernel ${(systemMicros / requests).toFixed(2)})`,
      `GC: ${gc.count} pauses (${JSON.stringify(gc.byKind)}), ${((gc.count * 1000) / requests).toFixed(2)} per 1,000 requests, ${((gc.ms * 1000) / requests).toFixed(2)} µs/request of pause = ${((gc.ms * 1000 * 100) / cpuMicros).toFixed(1)}% of server CPU`,
      `${kind === 'cpu' ? 'Self time' : 'Sampled allocations (garbage included)'} per request, by owner:`,
      top(byOwner, 12),
      'By frame:',
      top(byFrame, 25),
      "tokengate's own frames (core, adapter, its token cache's lru-cache):",
      top(new Map([...byFrame].filter(([key]) => /^(tokengate|lru-cache)/.test(key))), 15),
      '',
    ].join('\n'),
  );
}

const { jwks, tokens, config } = await fixtures({ quick: false, staticKeys: false });
const load = startLoad();
try {
  for (let round = 0; round < rounds; round++) {
    for (const target of targets) {
      const server = await startServer(target, config);
      try {
        const why = await assertTarget(server, tokens);
        if (why) throw new Error(`${target} ${why}`);
        await load.run(jobFor(server, 'reused', tokens, 2, 10));
        await server.profile('start', kind);
        const result = await load.run(jobFor(server, 'reused', tokens, seconds, 10));
        summarise(
          `${target} (round ${round + 1})`,
          await server.profile('stop', kind),
          result.total,
        );
      } finally {
        await server.stop();
      }
    }
  }
} finally {
  await load.stop();
  await jwks.close();
}
process.exit(0);
