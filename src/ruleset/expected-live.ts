/**
 * What iptables-save would show of a ruleset right after it was applied — as far as
 * planning looks: owned chains with their tagged rules, hooks first in their built-in
 * chains, operator chains present. Planning against it instead of a fresh iptables-save
 * keeps the hot path (an event about one container) free of the save exec; a read-back
 * soon after, off that path, checks the assumption.
 */
import type { LiveState, LiveTable } from './parse.js';
import { hookTag } from './hash.js';
import { renderChain, ruleLine } from './render.js';
import { TABLE_ORDER, type Ruleset } from './types.js';

function words(line: string, chain: string): string {
  return line.slice(`-A ${chain} `.length);
}

export function expectedLive(ruleset: Ruleset): LiveState {
  const state: LiveState = new Map();
  for (const name of TABLE_ORDER) {
    const table = ruleset.tables[name];
    const live: LiveTable = new Map();
    for (const chain of table.ensure ?? []) live.set(chain, { name: chain, rules: [] });
    for (const chain of table.chains) {
      const { tags, lines } = renderChain(chain);
      live.set(chain.name, { name: chain.name, rules: lines.map((line, i) => ({ text: words(line, chain.name), tag: tags[i]! })) });
    }
    for (const hook of table.hooks) {
      const builtin = live.get(hook.builtin) ?? { name: hook.builtin, policy: 'ACCEPT', rules: [] };
      const tag = hookTag(name, hook.builtin, hook.rule);
      builtin.rules.push({ text: words(ruleLine('-A', hook.builtin, hook.rule, tag), hook.builtin), tag });
      live.set(hook.builtin, builtin);
    }
    state.set(name, live);
  }
  return state;
}
