// pnpm bench [--quick] [--static-keys] [--only=micro,http,jwks,memory,fleet]
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runHttp } from './http.js';
import { runSection } from './lib/child.js';
import { render } from './report.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
// tokengate's HTTP targets get the keys as a static set instead of the JWKS URL.
const staticKeys = args.includes('--static-keys');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const unknown = args.filter((a) => !/^--(quick|static-keys|only=.*)$/.test(a));
if (unknown.length) {
  console.error(`unknown arguments: ${unknown.join(' ')}`);
  process.exit(2);
}

const RESULTS = fileURLToPath(new URL('../RESULTS.md', import.meta.url));
const started = performance.now();
const results = {};
const failures = [];

const sections = [
  ['micro', () => runSection('micro', { quick })],
  ['http', () => runHttp({ quick, staticKeys })],
  ['jwks', () => runSection('jwks', { quick })],
  ['memory', () => runSection('memory', { quick })],
  ['fleet', () => runSection('fleet', { quick })],
];

for (const [name, run] of sections) {
  if (only && !only.includes(name)) continue;
  const t0 = performance.now();
  console.error(`bench: ${name}…`);
  try {
    results[name] = await run();
  } catch (err) {
    failures.push(`section ${name}: ${err.message.split('\n')[0]}`);
    console.error(err);
  }
  console.error(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

for (const r of [...(results.micro?.rows ?? []), ...(results.http?.rows ?? [])]) {
  if (r.failed) failures.push(`${r.label}: ${r.failed}`);
}
const seconds = (performance.now() - started) / 1000;
let report;
try {
  report = render(results, { quick, seconds, failures });
} catch (err) {
  // Never lose a run's figures to a report bug.
  failures.push(`report: ${err.message}`);
  report = JSON.stringify({ results, failures }, null, 2);
}
console.log(report);
// A smoke run's figures mean nothing and must not dirty the tree: only full runs are kept.
if (!quick && !only) {
  await writeFile(RESULTS, report);
  console.error(`bench: wrote ${RESULTS}`);
}
// Explicit: a peer's stray timer (jwks-rsa queues for a minute) must not hold the run open.
process.exit(failures.length ? 1 : 0);
