/** `defaults.outbound` and `egress:`: normalised form and errors with their places. */
import { describe, expect, it } from 'vitest';
import { policy, problems } from '../../helpers/fixtures.js';


describe('egress', () => {
  it('normalises destinations: zones (interfaces mean the outbound interface), addresses, any', () => {
    const p = policy(`version: 1
zones:
  uplink: { interfaces: [eth0], sources: [192.0.2.0/24] }
defaults: { outbound: deny }
egress:
  - { name: dns, to: [zone:uplink, 198.51.100.53], ports: [53/udp] }
  - { containers: web, action: reject }
`);
    expect(p.defaults).toEqual({ published: 'allow', outbound: 'deny' });
    expect(p.egress).toEqual([
      {
        index: 0, name: 'dns', ports: [{ protocol: 'udp', from: 53, to: 53 }], action: 'allow',
        to: [{ iface: 'eth0', cidr: '192.0.2.0/24', label: 'zone:uplink' }, { cidr: '198.51.100.53/32', label: '198.51.100.53' }],
      },
      { index: 1, containers: [{ name: 'web' }], to: [{ label: 'any' }], action: 'reject' },
    ]);
  });

  it('leaves outbound out of the defaults when the file does not set it (allowed, as Docker)', () => {
    expect(policy('version: 1\n').defaults).toEqual({ published: 'allow' });
  });

  it('names every problem at its place', () => {
    expect(problems(`version: 1
defaults: { outbound: block }
egress:
  - { to: [network:front] }
  - { to: [zone:nowhere], ports: ["9-8"] }
  - { to: [] }
  - { from: [any] }
`)).toEqual([
      'policy.yaml: defaults.outbound: must be one of allow, deny, reject (got "block")',
      'policy.yaml: egress[0].to[0]: "network:front": a destination is "any", zone:NAME, an address or a CIDR',
      'policy.yaml: egress[1].to[0]: unknown zone "nowhere" (no zones are defined)',
      'policy.yaml: egress[1].ports[0]: empty range 9-8',
      'policy.yaml: egress[2].to: must not be an empty list',
      'policy.yaml: egress[3]: unknown key "from" (known keys: name, containers, to, ports, action, log)',
    ]);
  });
});
