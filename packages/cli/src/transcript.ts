// The text form of a verify report, in the demo's transcript style: one line per check.
import { relative, printable, showValue } from './format.js';
import type { Report } from './report.js';
import type { Verdict } from './stages.js';

const MARK: Record<Verdict, string> = { pass: '✓', fail: '✗', not_reached: '·', none: '–' };

/** The transcript: one line per check, the verdict last. */
export function reportText(report: Report): string {
  const clock =
    report.clock === 'at'
      ? `${report.at} (fixed by --at; ${relative(Date.parse(report.at) / 1000, Date.now() / 1000)})`
      : `${report.at} (system clock)`;
  const lines = [
    'tokengate verify: the verifier the middleware runs (createVerifier, @tokengate/core)',
    `  clock    ${clock}`,
  ];
  let previous = '';
  for (const step of report.steps) {
    const label = step.check === previous ? '' : step.check;
    previous = step.check;
    const [first, ...more] = step.detail.split('\n');
    lines.push(`  ${label.padEnd(8)} ${MARK[step.verdict]} ${first}`);
    for (const line of more) lines.push(`  ${''.padEnd(8)}   ${line}`);
  }
  if (report.steps.some((s) => s.verdict === 'not_reached')) {
    lines.push('  (· not reached: the verifier stops at the first failure)');
  }
  if (report.valid) {
    const c = report.claims ?? {};
    const who = [
      c.sub === undefined ? '' : `sub ${showValue(c.sub)}`,
      c.scope === undefined ? '' : `scope ${JSON.stringify(showValue(c.scope))}`,
    ].filter(Boolean);
    lines.push(`✓ valid${who.length ? `: ${who.join(', ')}` : ''}`);
  } else {
    lines.push(
      `✗ refused: ${report.code} (HTTP ${report.status} ${report.error}): ${report.description}` +
        (report.reason ? `; ${printable(report.reason)}` : ''),
    );
  }
  return lines.join('\n');
}
