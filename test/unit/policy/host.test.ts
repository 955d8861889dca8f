/** `host:` — traffic from the host itself to containers: normalised form and errors. */
import { describe, expect, it } from 'vitest';
import { formatIssues } from '../../../src/policy/issues.js';
import { parsePolicy } from '../../../src/policy/load.js';
import { policy } from '../../helpers/fixtures.js';

function problems(text: string): string[] {
  const result = parsePolicy(text, 'policy.yaml');
  if (result.ok) throw new Error('expected the policy to be refused');
  return formatIssues('policy.yaml', result.issues).split('\n');
}

describe('host.toContainers', () => {
  it('normalises rules like published-port rules, without sources', () => {
    const p = policy('version: 1\nhost:\n  toContainers:\n    - { name: proxy, containers: web, ports: [8080] }\n    - { action: deny }\n');
    expect(p.host).toEqual({
      toContainers: [
        { index: 0, name: 'proxy', containers: [{ name: 'web' }], ports: [{ protocol: 'tcp', from: 8080, to: 8080 }], action: 'allow' },
        { index: 1, action: 'deny' },
      ],
    });
  });

  it('names every problem at its place', () => {
    expect(problems('version: 1\nhost:\n  toContainer: []\n')).toEqual([
      expect.stringMatching(/^policy\.yaml: host: unknown key "toContainer" \(did you mean "toContainers"\?\)$/),
    ]);
    expect(problems('version: 1\nhost:\n  toContainers:\n    - { from: [any] }\n    - { containerPorts: [http], action: drop }\n')).toEqual([
      'policy.yaml: host.toContainers[0]: unknown key "from" (known keys: name, containers, ports, containerPorts, action, log)',
      'policy.yaml: host.toContainers[1].containerPorts[0]: malformed port "http" (expected N, N/proto or A-B/proto, such as 443/tcp or 8000-8100/udp)',
      'policy.yaml: host.toContainers[1].action: must be one of allow, deny, reject (got "drop")',
    ]);
  });
});
