import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/index.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import { parseSave } from '../../../src/ruleset/parse.js';
import { planFlush, planRestore, renderRuleset } from '../../../src/ruleset/plan.js';
import { containerChain } from '../../../src/compile/names.js';
import { container, inventory, network, tcp } from '../../helpers/fixtures.js';
import { FakeIptables } from '../../fakes/iptables.js';

const net = network(1);
const one = compile(inventory([net], [container(1, net, [tcp(80)])]), BUILTIN_DEFAULT).rulesets[0]!;
const second = containerChain(container(2, net, []).id);
const two = compile(inventory([net], [container(1, net, [tcp(80)]), container(2, net, [tcp(81)])]), BUILTIN_DEFAULT).rulesets[0]!;

describe('planning a restore', () => {
  it('writes everything when nothing is live, and nothing once applied', async () => {
    const kernel = new FakeIptables();
    const first = planRestore(one, parseSave(await kernel.save('ipv4')));
    expect(first.text).toBe(renderRuleset(one));
    await kernel.restore('ipv4', first.text);
    expect(planRestore(one, parseSave(await kernel.save('ipv4')))).toEqual({ text: '', changes: [] });
  });

  it('rewrites only the chains a new container touches', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(one));
    const next = planRestore(two, parseSave(await kernel.save('ipv4')));
    expect(next.changes.map((c) => `${c.table}/${c.chain}`).sort()).toEqual([
      `filter/${second}`, 'filter/DOCKWARD-PUBLISH', `nat/${second}`,
      'nat/DOCKWARD-HAIRPIN', 'nat/DOCKWARD-PUBLISH',
    ].sort());
    await kernel.restore('ipv4', next.text);
    expect(planRestore(two, parseSave(await kernel.save('ipv4'))).changes).toEqual([]);
  });

  it('deletes the chains of a container that is gone', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(two));
    const next = planRestore(one, parseSave(await kernel.save('ipv4')));
    expect(next.changes.filter((c) => c.kind === 'delete-chain').map((c) => `${c.table}/${c.chain}`)).toEqual([
      `filter/${second}`, `nat/${second}`,
    ]);
    await kernel.restore('ipv4', next.text);
    expect([...kernel.chains('nat').keys()]).not.toContain(second);
  });

  it('puts a hook back on top when a foreign rule was inserted above it, without duplicating it', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(one));
    await kernel.restore('ipv4', '*filter\n-I FORWARD 1 -i virbr0 -j ACCEPT\nCOMMIT');
    const next = planRestore(one, parseSave(await kernel.save('ipv4')));
    expect(next.changes).toEqual([{ kind: 'place-hook', table: 'filter', chain: 'FORWARD' }]);
    await kernel.restore('ipv4', next.text);
    const forward = kernel.chains('filter').get('FORWARD')!;
    expect(forward).toHaveLength(2);
    expect(forward[0]).toContain('-j DOCKWARD-FORWARD');
    expect(forward[1]).toBe('-i virbr0 -j ACCEPT');
  });

  it('rewrites an owned chain in which a rule was edited or added by someone else', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(one));
    await kernel.restore('ipv4', '*filter\n-A DOCKWARD-FORWARD -j ACCEPT\nCOMMIT');
    expect(planRestore(one, parseSave(await kernel.save('ipv4'))).changes).toEqual([{ kind: 'write-chain', table: 'filter', chain: 'DOCKWARD-FORWARD' }]);
  });

  it('flush removes every owned chain and hook and nothing else', async () => {
    const kernel = new FakeIptables();
    await kernel.restore('ipv4', renderRuleset(two));
    await kernel.restore('ipv4', '*filter\n:OTHER - [0:0]\n-A FORWARD -j OTHER\nCOMMIT');
    await kernel.restore('ipv4', planFlush(parseSave(await kernel.save('ipv4'))).text);
    expect(await kernel.save('ipv4')).not.toContain('DOCKWARD');
    expect(await kernel.save('ipv4')).toContain('-A FORWARD -j OTHER');
  });
});
