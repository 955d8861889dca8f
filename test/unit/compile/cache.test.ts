import { describe, expect, it } from 'vitest';
import { container, BENCH_IPSETS, BENCH_POLICY_YAML, syntheticInventory } from '../../../src/bench/synthetic.js';
import { CompileCache } from '../../../src/compile/cache.js';
import { compile, DEFAULT_OPTIONS } from '../../../src/compile/index.js';
import { containerChain, egressChain } from '../../../src/compile/names.js';
import { parsePolicy } from '../../../src/policy/load.js';
import { renderRuleset } from '../../../src/ruleset/plan.js';
import { TABLE_ORDER, type Chain, type Ruleset } from '../../../src/ruleset/types.js';

const parsed = parsePolicy(BENCH_POLICY_YAML, 'bench');
if (!parsed.ok) throw new Error('bench policy invalid');
const policy = parsed.policy;
const options = { ...DEFAULT_OPTIONS, ipsets: BENCH_IPSETS };

function chainsOf(r: Ruleset): Map<string, Chain> {
  return new Map(TABLE_ORDER.flatMap((t) => r.tables[t].chains.map((c) => [`${t}/${c.name}`, c] as const)));
}

describe('compile cache', () => {
  it.each([[201, 'an unrestricted container: nothing else changes'], [200, 'a restricted one: only the connections it is a source of']])(
    'after container %i starts (%s), every other chain is the same object as before: egress, connections, mirrors, networks', (index) => {
    const base = syntheticInventory(200);
    const cache = new CompileCache();
    const before = compile(base, policy, options, cache);
    // Container 200 carries the restricted label: egress chains, a connections source and mangle chains of its own.
    const added = container(index);
    const after = compile({ ...base, containers: [...base.containers, added] }, policy, options, cache);
    const own = new Set([containerChain(added.id), egressChain(added.id)]);
    for (const [i, ruleset] of after.rulesets.entries()) {
      const old = chainsOf(before.rulesets[i]!);
      const fresh: string[] = [];
      for (const [key, chain] of chainsOf(ruleset)) {
        if (chain.unordered || own.has(chain.name) || key.includes('DOCKWARD-L-') || !old.has(key)) continue;
        if (old.get(key) !== chain) fresh.push(key);
      }
      // Connections to svc-1? gain a source when the new container is one.
      expect(fresh.filter((k) => index % 10 !== 0 || !k.includes('DOCKWARD-K-'))).toEqual([]);
    }
    // What the cache hands back is what a fresh compile gives.
    const plain = compile({ ...base, containers: [...base.containers, added] }, policy, options);
    expect(after.rulesets.map(renderRuleset)).toEqual(plain.rulesets.map(renderRuleset));
  });
});
