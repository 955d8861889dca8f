/** The reconciler and ipsets: a missing set's rules come in at the next reconcile that finds it; own sets load before the rules. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Reconciler } from '../../../src/daemon/reconciler.js';
import type { Ipset } from '../../../src/dataplane/ipset.js';
import type { Family } from '../../../src/ruleset/types.js';
import { FakeIptables } from '../../fakes/iptables.js';
import { container, inventory, network, policy, tcp } from '../../helpers/fixtures.js';

const log = pino({ level: 'silent' });
const net = network(1);
const inv = inventory([net], [container(1, net, [tcp(443)])]);
const many = Array.from({ length: 40 }, (_, i) => `10.0.${i}.0/24`).join(', ');
const POLICY = policy(`version: 1
zones:
  banned: { ipset: f2b-sshd }
  partners: { sources: [${many}] }
rules:
  - { from: [zone:banned], action: deny }
  - { from: [zone:partners] }
`);

class FakeIpset implements Ipset {
  sets = new Map<string, Family>();
  members_ = new Map<string, string[]>();
  restores: string[] = [];
  async list() { return new Map(this.sets); }
  async members(name: string) { return this.members_.get(name); }
  async restore(text: string) {
    this.restores.push(text);
    const name = /^create (\S+) /.exec(text)?.[1]!;
    this.sets.set(name, 'ipv4');
    this.members_.set(name, text.split('\n').filter((l) => l.startsWith('add ')).map((l) => l.split(' ')[2]!));
  }
  async destroy(name: string) { return this.sets.delete(name); }
}

const saved = async (ipt: FakeIptables) => ipt.save('ipv4');

describe('reconciler with ipsets', () => {
  it('leaves out the rules of a missing set, with a note, and takes them in once the set exists', async () => {
    const ipt = new FakeIptables();
    const ipset = new FakeIpset();
    const r = new Reconciler({ readInventory: async () => inv, iptables: ipt, log, ipset }, POLICY);
    expect(await r.reconcile(['start'])).toBe(true);
    expect(r.state.notes).toEqual([expect.stringContaining('ipset f2b-sshd does not exist (yet)')]);
    expect(await saved(ipt)).not.toContain('f2b-sshd');
    ipset.sets.set('f2b-sshd', 'ipv4');
    expect(await r.reconcile(['resync'])).toBe(true);
    expect(r.state.notes).toEqual([]);
    expect(await saved(ipt)).toContain('--match-set f2b-sshd src');
  });

  it('tells when a missing set has appeared, and lists nothing while none is missing', async () => {
    const ipt = new FakeIptables();
    const ipset = new FakeIpset();
    let listings = 0;
    const counting: Ipset = { ...ipset, list: async () => { listings++; return ipset.list(); },
      members: (n) => ipset.members(n), restore: (t) => ipset.restore(t), destroy: (n) => ipset.destroy(n) };
    const r = new Reconciler({ readInventory: async () => inv, iptables: ipt, log, ipset: counting }, POLICY);
    await r.reconcile(['start']);
    expect(await r.missingSetAppeared()).toBe(false);
    ipset.sets.set('f2b-sshd', 'ipv4');
    expect(await r.missingSetAppeared()).toBe(true);
    await r.reconcile(['ipset-appeared']);
    expect(await saved(ipt)).toContain('--match-set f2b-sshd src');
    const before = listings;
    expect(await r.missingSetAppeared()).toBe(false);
    expect(listings, 'no set missing: no ipset command').toBe(before);
  });

  it('loads its own set once, before the rules, and leaves an unchanged one alone', async () => {
    const ipt = new FakeIptables();
    const ipset = new FakeIpset();
    const r = new Reconciler({ readInventory: async () => inv, iptables: ipt, log, ipset }, POLICY);
    await r.reconcile(['start']);
    await r.reconcile(['resync']);
    expect(ipset.restores).toHaveLength(1);
    expect(ipset.restores[0]).toMatch(/swap DOCKWARD-Z-\S+-4-T DOCKWARD-Z-\S+-4\n/);
  });
});
