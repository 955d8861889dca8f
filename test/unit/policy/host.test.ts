/** `host:` — traffic from the host itself to containers: normalised form and errors. */
import { describe, expect, it } from 'vitest';
import { policy, problems } from '../../helpers/fixtures.js';


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

describe('host.manage (exclusive mode)', () => {
  it('normalises input rules with their sources, and the default', () => {
    const p = policy('version: 1\nzones: { lan: { interfaces: [int0] } }\nhost:\n  manage: true\n  default: { action: deny, log: true }\n  input:\n    - { name: ssh, ports: [22], from: [zone:lan] }\n');
    expect(p.host?.manage).toEqual({
      default: 'deny', log: true,
      input: [{ index: 0, name: 'ssh', ports: [{ protocol: 'tcp', from: 22, to: 22 }], from: [{ iface: 'int0', label: 'zone:lan' }], action: 'allow' }],
    });
  });

  it('is off unless manage is true, and then input rules are an error', () => {
    expect(policy('version: 1\nhost: { toContainers: [] }\n').host?.manage).toBeUndefined();
    expect(problems('version: 1\nhost:\n  input:\n    - { ports: [22] }\n')).toEqual([
      'policy.yaml: host.input: input rules need exclusive mode: add "manage: true"',
    ]);
    expect(problems('version: 1\nhost: { default: deny }\n')).toEqual([
      'policy.yaml: host.default: the host\'s default applies in exclusive mode only: add "manage: true"',
    ]);
  });

  it('names every problem in input rules at its place', () => {
    expect(problems('version: 1\nhost:\n  manage: yes\n  default: closed\n  input:\n    - { from: [zone:nowhere], to: [any] }\n')).toEqual([
      'policy.yaml: host.manage: must be true or false (got "yes")',
      'policy.yaml: host.input[0].from[0]: unknown zone "nowhere" (no zones are defined)',
      'policy.yaml: host.input[0]: unknown key "to" (known keys: name, ports, from, action, log)',
      'policy.yaml: host.default: must be one of allow, deny, reject (got "closed")',
    ]);
  });
});
