/**
 * `npm run demo` as a user runs it: the matrix it prints before and after dockward applies
 * examples/policy.yaml says who reaches what, and each cell is what that policy means.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const DEMO = new URL('../../dist/lab/demo.js', import.meta.url).pathname;

/** The matrix after `heading`: row label → cells by column label. */
function matrix(out: string, heading: string): Record<string, Record<string, string>> {
  const lines = out.split(heading)[1]?.split('\n').slice(1) ?? [];
  const columns = lines[0]?.trim().split(/\s+/) ?? [];
  const rows: Record<string, Record<string, string>> = {};
  for (const line of lines.slice(1)) {
    if (line.trim() === '') break;
    const words = line.trim().split(/\s+/);
    const cells = words.slice(-columns.length);
    const label = words.slice(0, -columns.length).join(' ');
    rows[label] = Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? '']));
  }
  return rows;
}

describe('the demo', () => {
  it('prints who reaches what, before and after dockward, as examples/policy.yaml says', async () => {
    const r = await execa(process.execPath, [DEMO], { reject: false, timeout: 90_000 });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const before = matrix(r.stdout, "before dockward (Docker's own rules are off, so nothing is published):");
    const after = matrix(r.stdout, 'after dockward:');
    const internet = 'internet 198.51.100.2 via ext0';
    const office = 'office 203.0.113.2 via int0';
    const container = 'a container on the bridge';
    expect(Object.keys(after)).toEqual([internet, office, container]);
    for (const row of Object.values(before)) expect(Object.values(row).every((cell) => cell !== 'reaches')).toBe(true);
    expect(r.stdout).toMatch(/^direct routed access from the internet to web's address 172\.17\.0\.\d+:80: reaches \(!\)$/m);
    expect(after[internet]).toEqual({ 'web:443/tcp': 'reaches', 'web:8080/tcp': 'reset', 'admin:9000/tcp': 'dropped', 'dns:5353/udp': '-' });
    expect(after[office]).toEqual({ 'web:443/tcp': 'reaches', 'web:8080/tcp': 'reset', 'admin:9000/tcp': 'reaches', 'dns:5353/udp': 'reaches' });
    // A container reaches 443 like any source; 8080 is refused (reject), admin and dns are the office's only.
    expect(after[container]?.['web:443/tcp']).toBe('reaches');
    expect(after[container]?.['web:8080/tcp']).toMatch(/^(reset|dropped)$/);
    expect(after[container]?.['admin:9000/tcp']).toBe('dropped');
    expect(after[container]?.['dns:5353/udp']).toBe('-');
    expect(r.stdout).toMatch(/^direct routed access from the internet to web's address 172\.17\.0\.\d+:80: refused$/m);
  });
});
