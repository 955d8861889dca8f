/** Every jump and goto must land on a chain that exists in its table (an operator's `ensure` chain counts). */
import type { Ruleset, Target } from '../ruleset/types.js';

export interface BadJump {
  readonly table: string;
  /** The chain holding the rule (the built-in chain, for a hook). */
  readonly chain: string;
  readonly index: number;
  readonly target: string;
}

function targetChain(t: Target): string | undefined {
  return t.kind === 'jump' || t.kind === 'goto' ? t.chain : undefined;
}

export function checkJumps(ruleset: Ruleset): BadJump[] {
  const bad: BadJump[] = [];
  for (const [table, t] of Object.entries(ruleset.tables)) {
    const exists = new Set([...t.chains.map((c) => c.name), ...(t.ensure ?? [])]);
    const sources = [
      ...t.chains.map((c) => ({ chain: c.name, rules: c.rules })),
      ...[...new Set(t.hooks.map((h) => h.builtin))].map((b) => ({ chain: b, rules: t.hooks.filter((h) => h.builtin === b).map((h) => h.rule) })),
    ];
    for (const { chain, rules } of sources) {
      rules.forEach((rule, index) => {
        const target = targetChain(rule.target);
        if (target !== undefined && !exists.has(target)) bad.push({ table, chain, index, target });
      });
    }
  }
  return bad;
}
