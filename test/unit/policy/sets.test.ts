/** Zones as ipsets: a set kept by another tool, and many CIDRs as a set of dockward's own. */
import { describe, expect, it } from 'vitest';
import { ownSetName } from '../../../src/policy/sets.js';
import { policy, problems } from '../../helpers/fixtures.js';


describe('ipset zones', () => {
  it('normalise a named set into a set source (family unknown until the compiler sees the set)', () => {
    const p = policy('version: 1\nzones:\n  banned: { ipset: f2b-sshd, interfaces: [eth0] }\nrules:\n  - { from: [zone:banned], action: deny }\n');
    expect(p.rules[0]!.from).toEqual([{ iface: 'eth0', set: 'f2b-sshd', label: 'zone:banned' }]);
  });

  it('turn more than 32 CIDRs of one family into an own set; fewer stay rules', () => {
    const v4 = Array.from({ length: 33 }, (_, i) => `10.0.${i}.0/24`);
    const p = policy(`version: 1\nzones:\n  big: { sources: [${v4.join(', ')}, "2001:db8::/32"] }\nrules:\n  - { from: [zone:big] }\n`);
    const name = ownSetName('big', 'ipv4');
    expect(name).toMatch(/^DOCKWARD-Z-[A-Z2-7]{12}-4$/);
    expect(name.length).toBeLessThanOrEqual(29);
    expect(p.rules[0]!.from).toEqual([
      { cidr: '2001:db8::/32', label: 'zone:big' },
      { set: name, setFamily: 'ipv4', label: 'zone:big' },
    ]);
    expect(p.ownSets).toEqual([{ name, family: 'ipv4', cidrs: v4 }]);
  });

  it('name every problem at its place', () => {
    expect(problems('version: 1\nzones:\n  a: { ipset: "bad name" }\n  b: { ipset: DOCKWARD-Z-X }\n  c: { ipset: f2b, sources: [10.0.0.0/8] }\n  d: { ipset: [f2b] }\n')).toEqual([
      'policy.yaml: zones.a.ipset: "bad name" is not an ipset name (1-31 letters, digits, ".", "_", ":" or "-")',
      'policy.yaml: zones.b.ipset: ipset "DOCKWARD-Z-X": names starting with DOCKWARD- are dockward\'s own sets',
      'policy.yaml: zones.c: a zone takes its addresses from sources or from an ipset, not both',
      'policy.yaml: zones.d.ipset: must be a string (got a list)',
    ]);
  });
});
