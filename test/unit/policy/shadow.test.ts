/** Rules that can never decide, reported by `dockward check` as warnings (exit 0). */
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/temp.js';
import { shadowWarnings } from '../../../src/policy/shadow.js';
import { policy } from '../../helpers/fixtures.js';

const warnings = (yaml: string) => shadowWarnings(policy(yaml)).map((w) => `${w.path}: ${w.message}`);

describe('shadowed rules', () => {
  it('finds a rule whose traffic an earlier rule matches whole: same or wider ports, sources, containers', () => {
    expect(warnings(`version: 1
zones: { office: { sources: [198.51.100.0/24] } }
rules:
  - { ports: ["400-500/tcp"], from: [zone:office], action: deny }
  - { containers: web, ports: [443], from: [198.51.100.7] }
  - { ports: [443], from: [198.51.100.7, 192.0.2.1] }
  - { ports: ["53/udp"] }
  - { from: [any], ports: ["53/udp"], containerPorts: [53/udp] }
`)).toEqual([
      'rules[1]: never decides: rules[0] matches all of its traffic first',
      'rules[4]: never decides: rules[3] matches all of its traffic first',
    ]);
  });

  it('checks connections, egress and host rules the same way', () => {
    expect(warnings(`version: 1
connections:
  - { from: app, to: db }
  - { from: app, to: db, ports: [5432/tcp] }
egress:
  - { action: deny }
  - { containers: web, to: [192.0.2.0/24] }
host:
  toContainers:
    - { containers: web, ports: [8080] }
    - { containers: web, ports: [8080], containerPorts: [80] }
  manage: true
  input:
    - { ports: [22], from: [10.0.0.0/8] }
    - { ports: [22], from: [10.1.0.0/16] }
    - { ports: [22], from: [192.0.2.0/24] }
`)).toEqual([
      'connections[1]: never decides: connections[0] matches all of its traffic first',
      'egress[1]: never decides: egress[0] matches all of its traffic first',
      'host.toContainers[1]: never decides: host.toContainers[0] matches all of its traffic first',
      'host.input[1]: never decides: host.input[0] matches all of its traffic first',
    ]);
  });

  it('takes a "*" name glob for every container, in each list', () => {
    expect(warnings(`version: 1
rules:
  - { containers: "*", ports: [443] }
  - { containers: web, ports: [443] }
  - { containers: { name: "*", label: tier=edge }, ports: [80] }
  - { containers: web, ports: [80] }
connections:
  - { from: "*", to: db }
  - { from: app, to: db, ports: [5432] }
host:
  toContainers:
    - { containers: "**" }
    - { containers: web, ports: [8080] }
`)).toEqual([
      'rules[1]: never decides: rules[0] matches all of its traffic first',
      'connections[1]: never decides: connections[0] matches all of its traffic first',
      'host.toContainers[1]: never decides: host.toContainers[0] matches all of its traffic first',
    ]);
  });

  it('leaves a policy without shadowed rules alone', () => {
    expect(warnings('version: 1\nrules:\n  - { ports: [443], from: [192.0.2.1] }\n  - { ports: [443] }\n  - { ports: [80] }\n')).toEqual([]);
  });

  it('dockward check prints them as warnings and still exits 0', async () => {
    const dir = tempDir('dw-check-');
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'version: 1\nrules:\n  - { ports: [443] }\n  - { name: never, ports: [443], from: [192.0.2.1] }\n');
    const cli = new URL('../../../dist/cli.js', import.meta.url).pathname;
    const r = await execa(process.execPath, [cli, 'check', '--policy', file], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe(`warning: ${file}: rules[1]: never decides: rules[0] matches all of its traffic first`);
    expect(r.stdout).toContain(': ok (2 rules');
  });
});
