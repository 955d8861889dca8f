/**
 * doctor's output: one line per check, its specifics and its fix indented under it, or
 * JSON for machines. The exit code is 1 as soon as one check fails; warnings alone keep 0.
 */
import { healthy, type CheckResult } from './checks.js';

const INDENT = '     ';

function label(r: CheckResult): string {
  if (r.ok) return 'ok  ';
  return r.severity === 'fail' ? 'FAIL' : 'warn';
}

export function renderText(results: readonly CheckResult[]): string {
  const lines = results.flatMap((r) => [
    `${label(r)} ${r.id}: ${r.summary}`,
    ...(r.details ?? []).map((d) => `${INDENT}- ${d}`),
    ...(r.fix && !r.ok ? [`${INDENT}fix: ${r.fix}`] : []),
  ]);
  const fails = results.filter((r) => !r.ok && r.severity === 'fail').length;
  const warns = results.filter((r) => !r.ok && r.severity === 'warn').length;
  lines.push(fails === 0 ? `healthy${warns ? ` (${warns} warning(s))` : ''}` : `${fails} check(s) failed${warns ? `, ${warns} warning(s)` : ''}`);
  return `${lines.join('\n')}\n`;
}

export function renderJson(results: readonly CheckResult[]): string {
  return `${JSON.stringify({ healthy: healthy(results), checks: results }, null, 2)}\n`;
}

export function exitCode(results: readonly CheckResult[]): number {
  return healthy(results) ? 0 : 1;
}
