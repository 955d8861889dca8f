/** Exclusive host mode: whole-table restores, and anything not dockward's counts as drift. */
import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/index.js';
import { applyRuleset, liveDrift } from '../../../src/dataplane/apply.js';
import { FakeIptables } from '../../fakes/iptables.js';
import { container, inventory, network, policy, tcp } from '../../helpers/fixtures.js';

const net = network(1);
const inv = inventory([net], [container(1, net, [tcp(443)])]);
const EXCLUSIVE = policy(`version: 1
zones: { internal: { interfaces: [int0] } }
host:
  manage: true
  default: deny
  input:
    - { name: ssh, ports: [22], from: [zone:internal] }
`);

describe('exclusive host mode', () => {
  it('replaces foreign rules and chains, keeps built-in policies ACCEPT, and is then in sync', async () => {
    const ipt = new FakeIptables();
    await ipt.restore('ipv4', '*filter\n:INPUT ACCEPT [0:0]\n:FAIL2BAN - [0:0]\n-A INPUT -p tcp -m tcp --dport 9999 -j ACCEPT\nCOMMIT\n');
    const [v4] = compile(inv, EXCLUSIVE).rulesets;
    expect(v4!.exclusive).toBe(true);
    await applyRuleset(ipt, v4!);
    const saved = await ipt.save('ipv4');
    expect(saved).not.toContain('9999');
    expect(saved).not.toContain('FAIL2BAN');
    expect(saved).toMatch(/-A INPUT .*-j DOCKWARD-INPUT/);
    expect(await liveDrift(ipt, v4!)).toEqual([]);
  });

  it('takes a rule someone adds later for drift', async () => {
    const ipt = new FakeIptables();
    const [v4] = compile(inv, EXCLUSIVE).rulesets;
    await applyRuleset(ipt, v4!);
    await ipt.restore('ipv4', '*filter\n-A INPUT -p tcp -m tcp --dport 9999 -j ACCEPT\nCOMMIT\n');
    expect(await liveDrift(ipt, v4!)).toEqual([{ kind: 'take-over', table: 'filter', chain: 'INPUT' }]);
  });

  it('coexist mode (the default) leaves foreign rules alone', async () => {
    const ipt = new FakeIptables();
    await ipt.restore('ipv4', '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 9999 -j ACCEPT\nCOMMIT\n');
    const [v4] = compile(inv, policy('version: 1\n')).rulesets;
    await applyRuleset(ipt, v4!);
    expect(await ipt.save('ipv4')).toContain('9999');
    expect(await liveDrift(ipt, v4!)).toEqual([]);
  });
});
