/**
 * Both matrices side by side: one compact table per source, rows the destinations,
 * columns docker | dockward, and a mark on each row that differs.
 */
import { describeDifference, show, type Difference } from './diff.js';
import type { Matrix, Probe } from './matrix.js';
import { SOURCES } from './scenario.js';

export function printMatrices(probes: readonly Probe[], docker: Matrix, dockward: Matrix, diffs: readonly Difference[]): string {
  const byKey = new Map(diffs.map((d) => [d.probe.key, d]));
  const width = Math.max(...probes.map((p) => p.label.length));
  const lines: string[] = [];
  for (const source of SOURCES) {
    const rows = probes.filter((p) => p.source === source);
    lines.push('', `from ${source.label}`, `  ${'destination'.padEnd(width)}  ${'docker'.padEnd(12)}${'dockward'.padEnd(12)}`);
    for (const p of rows) {
      const d = byKey.get(p.key);
      const mark = !d ? '' : d.deliberate ? `~ deliberate: ${d.deliberate.name}` : '≠ UNEXPECTED';
      lines.push(`  ${p.label.padEnd(width)}  ${show(docker.get(p.key)).padEnd(12)}${show(dockward.get(p.key)).padEnd(12)}${mark}`);
    }
  }
  const unexpected = diffs.filter((d) => !d.deliberate);
  lines.push(
    '',
    `${probes.length} cells per matrix; ${diffs.length - unexpected.length} deliberate differences, ${unexpected.length} unexpected:`,
    ...unexpected.map((d) => `  ${describeDifference(d)}`),
  );
  return lines.join('\n');
}
