import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/index.js';
import { applyRuleset } from '../../../src/dataplane/apply.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import { FakeIptables } from '../../fakes/iptables.js';
import { container, inventory, network, tcp } from '../../helpers/fixtures.js';

const net = network(1);
const sctp = { protocol: 'sctp' as const, hostPort: 3868, containerPort: 3868, hostIp: '0.0.0.0' };
const [ruleset] = compile(inventory([net], [container(1, net, [tcp(80), sctp])]), BUILTIN_DEFAULT).rulesets;

describe('applying a ruleset', () => {
  it('leaves out the rules of a protocol the kernel refuses, and applies everything else', async () => {
    const kernel = new FakeIptables();
    kernel.refuse = /-p sctp /;
    const result = await applyRuleset(kernel, ruleset!);
    expect(result.skipped).toEqual(['sctp']);
    const live = await kernel.save('ipv4');
    expect(live).toContain('--to-destination 172.17.0.2:80');
    expect(live).not.toContain('sctp');
  });

  it('fails as a whole when the kernel refuses a rule that is not optional', async () => {
    const kernel = new FakeIptables();
    kernel.refuse = /-p tcp -m tcp --dport 80 .*-j DNAT/;
    await expect(applyRuleset(kernel, ruleset!)).rejects.toThrow(/line \d+ failed/);
    expect(await kernel.save('ipv4'), 'the nat table is not committed').not.toContain('-j DNAT');
  });
});
