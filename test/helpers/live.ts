/** Live rules (iptables-save text) parsed back into a ruleset, so the tracer can run packets through what the kernel holds. */
import { parseRule, parseSave } from '../../src/ruleset/parse.js';
import { TABLE_ORDER, type Chain, type Family, type Hook, type Ruleset, type Table } from '../../src/ruleset/types.js';

export function liveRuleset(save: string, family: Family = 'ipv4'): Ruleset {
  const state = parseSave(save);
  const tables = Object.fromEntries(TABLE_ORDER.map((name): [string, Table] => {
    const chains: Chain[] = [];
    const hooks: Hook[] = [];
    for (const chain of state.get(name)?.values() ?? []) {
      const rules = chain.rules.map((r) => parseRule(r.text));
      if (chain.name.startsWith('DOCKWARD-')) chains.push({ name: chain.name, rules });
      else if (chain.policy !== undefined) hooks.push(...rules.map((rule) => ({ builtin: chain.name, rule })));
    }
    return [name, { chains, hooks, ensure: ['DOCKER-USER'] }];
  }));
  return { family, tables: tables as unknown as Ruleset['tables'] };
}
