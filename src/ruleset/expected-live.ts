/**
 * What iptables-save would show of a ruleset right after it was applied — as far as
 * planning looks: owned chains with their tagged rules, hooks first in their built-in
 * chains, operator chains present. Planning against it instead of a fresh iptables-save
 * keeps the hot path (an event about one container) free of the save exec; a read-back
 * soon after, off that path, checks the assumption.
 */
import { appendLive, dropLiveChain, putLiveChain, type LiveChain, type LiveState, type LiveTable } from './parse.js';
import type { Plan } from './plan.js';
import { hookTag } from './hash.js';
import { renderChain, ruleLine } from './render.js';
import { TABLE_ORDER, type Chain, type Hook, type Ruleset, type TableName } from './types.js';

function words(line: string, chain: string): string {
  return line.slice(`-A ${chain} `.length);
}

function liveChain(chain: Chain): LiveChain {
  const { tags, lines } = renderChain(chain);
  return { name: chain.name, rules: lines.map((line, i) => ({ text: words(line, chain.name), tag: tags[i]! })) };
}

function placeHooks(live: LiveTable, table: TableName, hooks: readonly Hook[], builtins: ReadonlySet<string>): void {
  for (const builtin of builtins) live.set(builtin, { name: builtin, policy: 'ACCEPT', rules: [] });
  for (const hook of hooks) {
    if (!builtins.has(hook.builtin)) continue;
    const tag = hookTag(table, hook.builtin, hook.rule);
    live.get(hook.builtin)!.rules.push({ text: words(ruleLine('-A', hook.builtin, hook.rule, tag), hook.builtin), tag });
  }
}

export function expectedLive(ruleset: Ruleset): LiveState {
  const state: LiveState = new Map();
  for (const name of TABLE_ORDER) {
    const table = ruleset.tables[name];
    const live: LiveTable = new Map();
    for (const chain of table.ensure ?? []) live.set(chain, { name: chain, rules: [] });
    for (const chain of table.chains) live.set(chain.name, liveChain(chain));
    placeHooks(live, name, table.hooks, new Set(table.hooks.map((h) => h.builtin)));
    state.set(name, live);
  }
  return state;
}

/**
 * The expected state after a plan was restored: the previous one with the planned changes
 * applied, in place. Costs what changed, not what exists (the hot path after an event).
 */
export function advanceLive(live: LiveState, desired: Ruleset, plan: Pick<Plan, 'changes' | 'written' | 'appended'>): LiveState {
  const chainOf = (table: TableName, name: string): Chain | undefined => plan.written.get(`${table}/${name}`);
  for (const change of plan.changes) {
    const table = live.get(change.table) ?? new Map<string, LiveChain>();
    live.set(change.table, table);
    if (change.kind === 'write-chain' || change.kind === 'edit-chain') {
      const chain = chainOf(change.table, change.chain);
      if (chain) putLiveChain(table, liveChain(chain));
    } else if (change.kind === 'append-chain') {
      // The lines the plan appended, as it rendered them; a chain not live before is live whole now.
      const old = table.get(change.chain);
      const added = plan.appended.get(`${change.table}/${change.chain}`);
      const chain = chainOf(change.table, change.chain);
      if (old && added) appendLive(table, old, added);
      else if (chain) putLiveChain(table, liveChain(chain));
    } else if (change.kind === 'flush-chain' || change.kind === 'create-chain') {
      putLiveChain(table, { name: change.chain, rules: [] });
    } else if (change.kind === 'delete-chain') {
      dropLiveChain(table, change.chain);
    } else if (change.kind === 'place-hook') {
      placeHooks(table, change.table, desired.tables[change.table].hooks, new Set([change.chain]));
    } else {
      // Taking over from Docker edits rules this model does not track: start afresh from the desired state.
      return expectedLive(desired);
    }
  }
  return live;
}
