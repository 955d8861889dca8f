import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/index.js';
import { BUILTIN_DEFAULT } from '../../../src/policy/default.js';
import { parseSave } from '../../../src/ruleset/parse.js';
import { planFlush, planRestore, renderRuleset } from '../../../src/ruleset/plan.js';
import { containerChain } from '../../../src/compile/names.js';
import { container, inventory, network, tcp } from '../../helpers/fixtures.js';

/**
 * A tiny stand-in for the kernel, good enough to test planning: applies restore text the
 * way `iptables-restore --noflush` does (declare = create or flush, -A, -I N, -D, -X) and
 * prints state the way iptables-save does.
 */
function fakeKernel() {
  const tables = new Map<string, Map<string, string[]>>();
  const builtins: Record<string, string[]> = {
    raw: ['PREROUTING', 'OUTPUT'], mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
    filter: ['INPUT', 'FORWARD', 'OUTPUT'], nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  };
  const table = (name: string) => {
    if (!tables.has(name)) tables.set(name, new Map((builtins[name] ?? []).map((c) => [c, []])));
    return tables.get(name)!;
  };
  return {
    restore(text: string) {
      let current: Map<string, string[]> | undefined;
      for (const line of text.split('\n')) {
        const [verb, chain = '', ...rest] = line.split(' ');
        if (line.startsWith('*')) current = table(line.slice(1));
        else if (line.startsWith(':')) current!.set(line.slice(1).split(' ')[0]!, []);
        else if (verb === '-A') current!.get(chain)!.push(rest.join(' '));
        else if (verb === '-I') current!.get(chain)!.splice(Number(rest[0]) - 1, 0, rest.slice(1).join(' '));
        else if (verb === '-D') {
          const rules = current!.get(chain)!;
          const at = rules.indexOf(rest.join(' '));
          if (at < 0) throw new Error(`no such rule: ${line}`);
          rules.splice(at, 1);
        } else if (verb === '-X') current!.delete(chain);
      }
    },
    save(): string {
      return [...tables].map(([name, chains]) => [`*${name}`,
        ...[...chains.keys()].map((c) => `:${c} ${builtins[name]?.includes(c) ? 'ACCEPT' : '-'} [0:0]`),
        ...[...chains].flatMap(([c, rules]) => rules.map((r) => `-A ${c} ${r}`)), 'COMMIT'].join('\n')).join('\n');
    },
    chains: (name: string) => table(name),
  };
}

const net = network(1);
const one = compile(inventory([net], [container(1, net, [tcp(80)])]), BUILTIN_DEFAULT).rulesets[0]!;
const second = containerChain(container(2, net, []).id);
const two = compile(inventory([net], [container(1, net, [tcp(80)]), container(2, net, [tcp(81)])]), BUILTIN_DEFAULT).rulesets[0]!;

describe('planning a restore', () => {
  it('writes everything when nothing is live, and nothing once applied', () => {
    const kernel = fakeKernel();
    const first = planRestore(one, parseSave(kernel.save()));
    expect(first.text).toBe(renderRuleset(one));
    kernel.restore(first.text);
    expect(planRestore(one, parseSave(kernel.save()))).toEqual({ text: '', changes: [] });
  });

  it('rewrites only the chains a new container touches', () => {
    const kernel = fakeKernel();
    kernel.restore(renderRuleset(one));
    const next = planRestore(two, parseSave(kernel.save()));
    expect(next.changes.map((c) => `${c.table}/${c.chain}`).sort()).toEqual([
      `filter/${second}`, 'filter/DOCKWARD-PUBLISH', `nat/${second}`,
      'nat/DOCKWARD-HAIRPIN', 'nat/DOCKWARD-PUBLISH',
    ].sort());
    kernel.restore(next.text);
    expect(planRestore(two, parseSave(kernel.save())).changes).toEqual([]);
  });

  it('deletes the chains of a container that is gone', () => {
    const kernel = fakeKernel();
    kernel.restore(renderRuleset(two));
    const next = planRestore(one, parseSave(kernel.save()));
    expect(next.changes.filter((c) => c.kind === 'delete-chain').map((c) => `${c.table}/${c.chain}`)).toEqual([
      `filter/${second}`, `nat/${second}`,
    ]);
    kernel.restore(next.text);
    expect([...kernel.chains('nat').keys()]).not.toContain(second);
  });

  it('puts a hook back on top when a foreign rule was inserted above it, without duplicating it', () => {
    const kernel = fakeKernel();
    kernel.restore(renderRuleset(one));
    kernel.restore('*filter\n-I FORWARD 1 -i virbr0 -j ACCEPT\nCOMMIT');
    const next = planRestore(one, parseSave(kernel.save()));
    expect(next.changes).toEqual([{ kind: 'place-hook', table: 'filter', chain: 'FORWARD' }]);
    kernel.restore(next.text);
    const forward = kernel.chains('filter').get('FORWARD')!;
    expect(forward).toHaveLength(2);
    expect(forward[0]).toContain('-j DOCKWARD-FORWARD');
    expect(forward[1]).toBe('-i virbr0 -j ACCEPT');
  });

  it('rewrites an owned chain in which a rule was edited or added by someone else', () => {
    const kernel = fakeKernel();
    kernel.restore(renderRuleset(one));
    kernel.restore('*filter\n-A DOCKWARD-FORWARD -j ACCEPT\nCOMMIT');
    expect(planRestore(one, parseSave(kernel.save())).changes).toEqual([{ kind: 'write-chain', table: 'filter', chain: 'DOCKWARD-FORWARD' }]);
  });

  it('flush removes every owned chain and hook and nothing else', () => {
    const kernel = fakeKernel();
    kernel.restore(renderRuleset(two));
    kernel.restore('*filter\n:OTHER - [0:0]\n-A FORWARD -j OTHER\nCOMMIT');
    kernel.restore(planFlush(parseSave(kernel.save())).text);
    expect(kernel.save()).not.toContain('DOCKWARD');
    expect(kernel.save()).toContain('-A FORWARD -j OTHER');
  });
});
