import { readFileSync } from 'node:fs';
import os from 'node:os';
import { median } from './lib/measure.js';

const LIBRARIES = [
  '@tokengate/core',
  'jose',
  'fast-jwt',
  'jsonwebtoken',
  'aws-jwt-verify',
  'express',
  'express-oauth2-jwt-bearer',
  'express-jwt',
  'jwks-rsa',
  'koa',
  'koa-jwt',
  'fastify',
  '@fastify/jwt',
  'get-jwks',
  'autocannon',
];

/** The fewest A/A rounds whose spread the report trusts as a group's noise. */
const MIN_AA_ROUNDS = 3;
const int = (n) => Math.round(n).toLocaleString('en');
const pct = (f) =>
  Number.isFinite(f) ? `±${Math.round(f * 100)}%` : `unknown (under ${MIN_AA_ROUNDS} rounds)`;
const times = (r) => (r >= 10 ? `${r.toFixed(1)}x` : `${r.toFixed(2)}x`);
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// Some packages do not export their package.json; read it from the bench's node_modules.
function version(name) {
  const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(file, 'utf8')).version;
}

/** Per-round ratio of two rows measured side by side; the median of those. */
function ratioOf(a, b, field = 'samples') {
  if (!a?.[field]?.length || !b?.[field]?.length || a.failed || b.failed) return undefined;
  const n = Math.min(a[field].length, b[field].length);
  const ratios = [];
  for (let i = 0; i < n; i++) ratios.push(a[field][i] / b[field][i]);
  return { value: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), n };
}

/** Throughput-equivalent ratio from server CPU per request: `b`'s CPU over `a`'s. */
function cpuRatioOf(a, b) {
  const r = ratioOf(b, a, 'cpuSamples');
  return r && r.value;
}

/**
 * The resolution of a group, from its A/A row (the same target measured twice, on two sets of
 * processes): the largest distance from 1 of the per-round A/A ratios, for req/s and for server
 * CPU per request. Undefined for groups without an A/A row (the micro rows).
 */
function noiseOf(rows, group) {
  const aa = rows?.find((r) => r.group === group && r.aa);
  const twin = aa && rows.find((r) => r.group === group && r.id === aa.ref);
  if (!aa || !twin) return undefined;
  const band = (field) => {
    const r = ratioOf(aa, twin, field);
    // Fewer than three rounds (a --quick run) bound nothing: every goal stays unresolved.
    if (r && r.n < MIN_AA_ROUNDS) return Infinity;
    return r && Math.max(r.max - 1, 1 - r.min);
  };
  return { rps: band('samples'), cpu: band('cpuSamples') };
}

/** Whether `value` differs from `against` by more than the A/A noise (a fraction). */
const resolved = (value, against, noise) => Math.abs(value / against - 1) > noise;

/** "resolved" or "within noise (A/A ±x%)"; empty without an A/A measure. */
function verdict(value, against, noise) {
  if (noise === undefined || value === undefined) return '';
  return resolved(value, against, noise) ? 'resolved' : `within noise (A/A ${pct(noise)})`;
}

/**
 * A goal `value >= want` judged against the A/A noise: met or NOT MET only when the value lies
 * outside the noise around the target, else unresolved (the run cannot tell).
 */
function judged(value, want, noise) {
  if (noise === undefined || resolved(value, want, noise)) return value >= want;
  return 'unresolved';
}

function environment(mode) {
  const cpus = os.cpus();
  return [
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}, ${mib(os.totalmem())} RAM, ${os.platform()} ${os.release()}`,
    `- Node ${process.version}; mode: ${mode}`,
    `- Versions: ${LIBRARIES.map((name) => `${name} ${version(name)}`).join(', ')}`,
  ].join('\n');
}

function measurementTable(rows) {
  const out = [
    '| Row | Median | Spread | Ratio (same rounds) | p99 | Server CPU / request |',
    '|---|---:|---:|---|---:|---:|',
  ];
  const noise = new Map();
  const byId = new Map(rows.map((r) => [`${r.group}/${r.id}`, r]));
  let group;
  for (const r of rows) {
    if (r.group !== group) {
      group = r.group;
      out.push(`| **${r.groupTitle}** | | | | | |`);
    }
    if (r.failed) {
      out.push(`| ${r.label} | FAILED: ${r.failed} | | | | |`);
      continue;
    }
    if (!noise.has(r.group)) noise.set(r.group, noiseOf(rows, r.group));
    const n = noise.get(r.group);
    const ref = r.ref && byId.get(`${r.group}/${r.ref}`);
    const ratio = ref && ratioOf(r, ref);
    const mark = (text, value, band) => {
      const v = r.aa ? `A/A ${pct(band)}` : ratio && verdict(value, 1, band);
      return v ? `${text}; ${v}` : text;
    };
    const ratioText = ratio
      ? mark(
          `${times(ratio.value)} ${ref.label.replace(/ \(floor\)$/, '')} (${times(ratio.min)}–${times(ratio.max)})`,
          ratio.value,
          n?.rps,
        )
      : r.ref
        ? 'n/a'
        : 'reference';
    const p99 = r.p99 === undefined ? '' : `${r.p99} ms`;
    const cpuRatio = ref && cpuRatioOf(r, ref);
    const cpu =
      r.cpuPerRequest === undefined
        ? ''
        : cpuRatio === undefined
          ? `${r.cpuPerRequest.toFixed(1)} µs`
          : mark(`${r.cpuPerRequest.toFixed(1)} µs (${times(cpuRatio)})`, cpuRatio, n?.cpu);
    out.push(
      `| ${r.label} | ${int(r.median)} ${r.unit} | ${pct(r.spread)} | ${ratioText} | ${p99} | ${cpu} |`,
    );
  }
  return out.join('\n');
}

function jwksTable(jwks) {
  const out = [
    '| Library | Cold start: concurrent verifications → JWKS requests | Unknown kids (100 at a time) → JWKS requests |',
    '|---|---|---|',
  ];
  for (const p of jwks.peers.rows) {
    const coldStalled = p.coldStalled ? `, ${p.coldStalled} stalled` : '';
    const cold = `${int(p.coldCount)} → ${p.coldRequests} (${int(p.coldAccepted)} accepted${coldStalled})`;
    const stalled = p.unknownStalled
      ? `; ${int(p.unknownStalled)} stalled > 2 s, stopped after ${int(p.unknownTried)}`
      : '';
    const flood = `${int(p.unknownCount)} → ${int(p.unknownRequests)} in ${p.unknownSeconds.toFixed(1)} s${stalled}`;
    out.push(`| ${p.name} | ${cold} | ${flood} |`);
  }
  return out.join('\n');
}

/** The fleet rows (src/fleet.js): key-server requests per event, and per hour. */
function fleetTable(fleet) {
  const { hour } = fleet;
  const out = [
    `Simulated receivers in one process, each with its own cache (and its own Redis connection with the store). Requests per event are measured over real windows with max-age and cooldown of ${fleet.short} s: a cold start of every receiver at once; ${fleet.rounds} revalidation rounds (traffic at every receiver past max-age); the requests that reach the key server within exactly ${fleet.cooldowns} cooldowns of unknown kids sent to every receiver, per cooldown (without the store each receiver may make up to 15, bounded here by how fast one process sends). Per hour: ${hour.deploys} deploy (every receiver cold) + 3600 / ${hour.maxAge} s max-age revalidations; under flood, + 3600 / ${hour.cooldown} s cooldown times the flood figure.`,
    '',
    '| Receivers | JWKS store | Cold start | Per max-age | Per cooldown, unknown-kid flood | Per hour | Per hour under flood |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of fleet.rows) {
    const store = r.store ? 'Redis (`createRedisJwksStore`)' : 'none';
    out.push(
      `| ${r.receivers} | ${store} | ${int(r.cold)} | ${r.perMaxAge.toFixed(1)} | ${r.perCooldown.toFixed(1)} | ${int(r.quietHour)} | ${int(r.floodHour)} |`,
    );
  }
  return out.join('\n');
}

/**
 * One condition of a goal, `value >= want` (a ratio), judged against the A/A noise of its group:
 * met or NOT MET only when the value lies outside the noise around the target. `shortfall` is
 * how far below the target the value is, as a fraction of the target (0 when it is not below).
 */
function condition(name, value, want, noise) {
  return {
    name,
    value,
    want,
    verdict: judged(value, want, noise),
    shortfall: value < want ? 1 - value / want : 0,
  };
}

/** A goal of several conditions: NOT MET if one is, else unresolved if one is, else met. */
function combined(conditions) {
  const verdicts = conditions.map((c) => c.verdict);
  if (verdicts.includes(false)) return false;
  return verdicts.includes('unresolved') ? 'unresolved' : true;
}

/** "0.74 vs 0.8: 0.06 short (8% of the target)" for each condition below its target. */
function shortfallText(conditions) {
  return conditions
    .filter((c) => c.shortfall > 0)
    .map(
      (c) =>
        `${c.name} ${c.value.toFixed(2)} vs ${c.want}: ${(c.want - c.value).toFixed(2)} short (${Math.round(c.shortfall * 100)}% of the target)`,
    )
    .join('; ');
}

/** The A/A band of a group as printed beside a goal (req/s and server CPU for HTTP groups). */
function noiseText(noise, field = 'rps') {
  return noise?.[field] === undefined ? 'n/a' : pct(noise[field]);
}

/** Evaluates the goals from the rows: issue 16's table first, then the standing goals. */
function goals({ micro, http, jwks, memory }) {
  const list = [];
  const find = (rows, group, id) => {
    if (!rows) throw new Error('section not run');
    return rows.find((r) => r.group === group && r.id === id);
  };
  const add = (goal, target, compute) => {
    let entry;
    try {
      entry = compute();
      if (entry === undefined) entry = { ours: 'not measured (row failed)', met: false };
      else if (Array.isArray(entry)) entry = { ours: entry[0], met: entry[1] };
    } catch (err) {
      entry = { ours: `not measured (${err.message})`, met: false };
    }
    list.push({ goal, target, aa: 'n/a', ...entry });
  };
  const ratio = (rows, group, a, b) => ratioOf(find(rows, group, a), find(rows, group, b));
  /** A goal made of ratio conditions in one micro group: [name, row, against row, want]. */
  const ratioGoal = (group, parts, format = (v) => v.toFixed(2)) => {
    const noise = noiseOf(m, group);
    const conditions = [];
    const texts = [];
    for (const [name, a, b, want] of parts) {
      const r = ratio(m, group, a, b);
      if (!r) return undefined;
      conditions.push(condition(name, r.value, want, noise?.rps));
      texts.push(`${name} ${format(r.value)} (${format(r.min)}–${format(r.max)})`);
    }
    return {
      ours: texts.join('; '),
      aa: noiseText(noise),
      band: noise?.rps,
      met: combined(conditions),
      missed: shortfallText(conditions),
    };
  };
  const m = micro?.rows;

  const sizes = ['1', '1000', '100000'];
  /** One condition per cache size: tokengate's cached row against `against(size)`. */
  const perSize = (against, want) =>
    ratioGoal(
      'cached',
      sizes.map((n) => [`${int(Number(n))} live`, `tokengate-cached-${n}`, against(n), want]),
      times,
    );
  add('Cached token vs RS256 floor, 1 / 1,000 / 100,000 live', '>= 10x at every size', () =>
    perSize(() => 'floor-RS256', 10),
  );
  add('Cached token vs fast-jwt cache, same sizes', '> 1x at every size', () =>
    perSize((n) => `fast-jwt-cached-${n}`, 1),
  );
  add(
    'Cached token flat from 1 to 100,000 live',
    'no collapse: drops no more than a plain Map.get on the same keys (memory latency)',
    () => {
      const ours = ratio(m, 'cached', 'tokengate-cached-100000', 'tokengate-cached-1');
      const map = ratio(m, 'cached', 'map-100000', 'map-1');
      if (!ours || !map) return undefined;
      const c = condition('100,000 / 1 against plain Map', ours.value / map.value, 1);
      return {
        ours: `100,000 / 1: ${times(ours.value)} (plain Map: ${times(map.value)})`,
        met: c.verdict,
        missed: shortfallText([c]),
      };
    },
  );
  for (const [alg, want] of [
    ['RS256', 0.8],
    ['ES256', 0.9],
    ['EdDSA', 0.9],
  ]) {
    add(
      `Uncached ${alg} vs floor, and vs fast-jwt in the same run`,
      `>= ${want}, and >= 1x fast-jwt`,
      () =>
        ratioGoal(`sig-${alg}`, [
          ['vs floor', `tokengate-${alg}`, `floor-${alg}`, want],
          ['vs fast-jwt', `tokengate-${alg}`, `fast-jwt-${alg}`, 1],
        ]),
    );
  }
  add('Nested RSA-OAEP-256 + RS256 vs its floor', '>= 0.8', () =>
    ratioGoal('nested-rsa', [['vs floor', 'tokengate-nested-rsa', 'floor-nested-rsa', 0.8]]),
  );
  add('Nested ECDH-ES+A256KW + ES256 vs jose', '>= 3x', () =>
    ratioGoal('nested-ec', [['vs jose', 'tokengate-nested-ec', 'jose-nested-ec', 3]], times),
  );

  const h = http?.rows;
  for (const [fw, want, name] of [
    ['express', 0.92, 'Express'],
    ['koa', 0.92, 'Koa'],
    ['fastify', 0.85, 'Fastify'],
  ]) {
    add(`${name} + tokengate, reused token, vs bare ${name}`, `>= ${want} (req/s)`, () => {
      const ours = find(h, `http-${fw}`, `${fw}-tokengate:reused`);
      const bare = find(h, `http-${fw}`, `${fw}-bare:reused`);
      const r = ratioOf(ours, bare);
      const cpu = cpuRatioOf(ours, bare);
      const n = noiseOf(h, `http-${fw}`);
      if (!r) return undefined;
      // Judged on req/s, the issue's figure; server CPU per request (steadier on a shared
      // machine) is judged beside it against its own A/A band.
      const byRps = condition('req/s', r.value, want, n?.rps);
      const byCpu = cpu === undefined ? undefined : condition('server CPU', cpu, want, n?.cpu);
      const cpuVerdict = byCpu && verdictText(byCpu.verdict, n?.cpu, shortfallText([byCpu]));
      return {
        ours: `${r.value.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)}); by server CPU per request: ${cpu === undefined ? 'n/a' : cpu.toFixed(2)}${cpuVerdict ? `, ${cpuVerdict}` : ''}`,
        aa: `req/s ${noiseText(n)}, CPU ${noiseText(n, 'cpu')}`,
        band: n?.rps,
        met: byRps.verdict,
        missed: shortfallText([byRps]),
      };
    });
  }
  const issueRows = list.length;
  for (const fw of ['express', 'koa', 'fastify']) {
    const rows = h?.filter((r) => r.group === `http-${fw}` && r.id.endsWith(':fresh'));
    const n = noiseOf(h, `http-${fw}`);
    add(`${fw}: fresh token per request, tokengate vs each peer`, '> 1x every peer', () => {
      const ours = rows?.find((r) => r.id.startsWith(`${fw}-tokengate`));
      const peers = rows?.filter((r) => r !== ours) ?? [];
      if (!ours || ours.failed || peers.length === 0) return undefined;
      const parts = peers.map((p) => [p, ratioOf(ours, p)]);
      const text = parts
        .map(([p, r]) => {
          const cpu = cpuRatioOf(ours, p);
          const name = p.label.replace(/, fresh token$/, '');
          const v = r && verdict(r.value, 1, n?.rps);
          return `${r ? times(r.value) : 'n/a'} ${name}${v ? `, ${v}` : ''} (CPU/request ${cpu ? times(cpu) : 'n/a'})`;
        })
        .join('; ');
      // A peer that failed (non-2xx, errors) is not one we are behind.
      const conditions = parts
        .filter(([, r]) => r)
        .map(([p, r]) =>
          condition(`vs ${p.label.replace(/, fresh token$/, '')}`, r.value, 1, n?.rps),
        );
      return {
        ours: text,
        aa: noiseText(n),
        band: n?.rps,
        met: combined(conditions),
        missed: shortfallText(conditions),
      };
    });
  }

  add(
    'Revocation check (Redis denylist) on a cached token vs none',
    '>= 0.95 (within 5% of the cached-token figure)',
    () => ratioGoal('revocation', [['with / without', 'cached-denylist', 'cached-plain', 0.95]]),
  );

  const s = jwks?.simulated;
  const ours = jwks?.peers.rows.find((r) => r.name === 'tokengate');
  add('Cold start, 1,000 concurrent verifications: JWKS requests', '1', () => {
    return (
      ours && [
        `${ours.coldRequests} (${int(ours.coldAccepted)} accepted)`,
        ours.coldRequests === 1 && ours.coldAccepted === 1000,
      ]
    );
  });
  add(
    '10,000 unknown kids over five cooldowns (simulated clock): JWKS requests',
    '<= 1 full download per cooldown; conditional (304) ones <= 15 per cooldown',
    () =>
      s && [
        `${s.stormDownloads} downloads and ${s.stormRequests - s.stormDownloads} 304s in ${s.stormSpan} s (cooldown ${s.cooldown} s, allowed ${s.allowed} and ${15 * s.allowed})`,
        s.stormDownloads <= s.allowed && s.stormRequests <= 15 * s.allowed,
      ],
  );
  add('Valid tokens during the unknown-kid flood', '0 refused', () => {
    return s && [`${s.validRefused} of ${s.validTried} refused`, s.validRefused === 0];
  });
  add('New key published right after a forced refresh', 'never refused', () => {
    if (!s) return undefined;
    const after = s.rotationAcceptedAfter;
    return [
      after === undefined
        ? `still refused after ${2 * s.cooldown} s`
        : after <= 1
          ? 'accepted at once'
          : `refused for ${after - 1} s, accepted after ${after} s (cooldown ${s.cooldown} s)`,
      after !== undefined && after <= 1,
    ];
  });
  add(
    `Heap after ${memory ? int(memory.count) : '?'} distinct tokens, default cache`,
    `<= ${memory ? mib(memory.bound) : '?'} (tokenCache.maxBytes)`,
    () => {
      if (!memory) return undefined;
      return [
        `${mib(memory.heapGrowth)} for ${int(memory.entries)} entries (${int(memory.bytesPerEntry)} B each; the cache counts ${int(memory.estimatePerEntry)})`,
        memory.heapGrowth <= memory.bound,
      ];
    },
  );
  return { issue: list.slice(0, issueRows), standing: list.slice(issueRows) };
}

/** The verdict of a goal as printed: met, NOT MET and by how much, or unresolved. */
function verdictText(met, band, missed) {
  if (met === 'unresolved') {
    const within =
      band === undefined
        ? 'within A/A noise'
        : Number.isFinite(band)
          ? `within A/A ${pct(band)}`
          : `A/A band ${pct(band)}`;
    return `unresolved (${within}${missed ? `; if real: ${missed}` : ''})`;
  }
  if (met) return 'met';
  return missed ? `NOT MET: ${missed}` : 'NOT MET';
}

function goalTable(list) {
  const out = ['| Goal | Target | Ours | A/A | Verdict |', '|---|---|---|---|---|'];
  for (const g of list) {
    const v = verdictText(g.met, g.band, g.missed);
    out.push(`| ${g.goal} | ${g.target} | ${g.ours} | ${g.aa} | ${v} |`);
  }
  return out.join('\n');
}

/** Renders the whole report as Markdown (printed, and written to RESULTS.md on full runs). */
export function render(results, { quick, seconds, failures }) {
  const mode = quick ? '--quick (smoke test: figures are not meaningful)' : 'full';
  const rows = [...(results.micro?.rows ?? []), ...(results.http?.rows ?? [])];
  const goalList = goals(results);
  const parts = [
    '# tokengate benchmark results',
    '',
    environment(mode),
    '',
    'Every ratio is taken between rows measured in the same rounds of the same run (median of',
    'the per-round ratios, range in brackets). Micro rows: one call at a time in a timed loop',
    'after a warm-up; HTTP rows: autocannon in another process, 10 connections, 127.0.0.1;',
    '"fresh token" rows send a different valid token on every request (tokengate keeps its',
    'cache on but small, so every request misses and pays the insert). "Server CPU / request" is',
    "the target process's CPU time over the requests it answered (all its threads): steadier than",
    'req/s when the machine is shared, and it shows work moved to the thread pool (WebCrypto).',
    'HTTP rows: every round starts a fresh process per variant (so a full run measures each',
    'variant on several processes) and rotates the order. Each framework has an A/A row: the',
    'same tokengate target on a second set of processes; its per-round ratios to its twin are',
    'pure noise. An HTTP ratio is *resolved* only when it lies further from 1 (a goal: from its',
    'target) than the largest A/A deviation; otherwise it is printed "within noise" and the goal',
    'is "unresolved".',
    '',
    '## Goals of issue 16',
    '',
    goalTable(goalList.issue),
    '',
    '## Standing goals',
    '',
    goalTable(goalList.standing),
    '',
    '## Measurements',
    '',
    rows.length ? measurementTable(rows) : '_no rows_',
    '',
    '## JWKS under load (real time)',
    '',
    results.jwks ? jwksTable(results.jwks) : '_not measured_',
    '',
  ];
  if (results.fleet) {
    parts.push('## A fleet of receivers: key-server requests', '', fleetTable(results.fleet), '');
  }
  if (results.memory) {
    const mm = results.memory;
    parts.push(
      `Memory: ${int(mm.count)} distinct tokens of ${mm.tokenLength} characters in ${mm.seconds.toFixed(1)} s; first token still cached: ${mm.firstStillCached}, last cached: ${mm.lastCached}.`,
      '',
    );
  }
  if (failures.length) {
    parts.push('## Failures', '', ...failures.map((f) => `- ${f}`), '');
  }
  parts.push(`Run time: ${seconds.toFixed(0)} s.`, '');
  return parts.join('\n');
}
