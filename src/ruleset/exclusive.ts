/**
 * Exclusive host mode: the ruleset is the whole of raw, mangle, filter and nat. It is
 * restored without --noflush, so the tables hold exactly what dockward computed — no
 * other tool's rule or chain survives an apply — and read-back counts any rule without a
 * hash tag, any chain that is not dockward's, or a built-in chain policy other than
 * ACCEPT as drift, which the next apply removes.
 */
import { isOwnedChain } from '../compile/names.js';
import type { LiveState } from './parse.js';
import { planRestore, renderRuleset, type Change, type Plan } from './plan.js';
import { TABLE_ORDER, type Ruleset, type TableName } from './types.js';

/** Built-in chains per table; their policy stays ACCEPT, dockward's own last rules decide. */
export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly string[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
};

/** The whole ruleset as restore input for a restore without --noflush: built-in chains declared with their policy. */
export function exclusiveText(desired: Ruleset): string {
  return renderRuleset(desired).split('\n').flatMap((line) => {
    const table = line.startsWith('*') ? (line.slice(1) as TableName) : undefined;
    return table ? [line, ...(BUILTIN_CHAINS[table] ?? []).map((c) => `:${c} ACCEPT [0:0]`)] : [line];
  }).join('\n');
}

/** What is live but not dockward's: one change per chain holding a foreign rule, a foreign chain or a changed policy. */
export function foreignParts(desired: Ruleset, live: LiveState): Change[] {
  const found: Change[] = [];
  for (const table of TABLE_ORDER) {
    const ensure = new Set(desired.tables[table].ensure ?? []);
    for (const chain of live.get(table)?.values() ?? []) {
      const builtin = BUILTIN_CHAINS[table].includes(chain.name);
      const foreignChain = !builtin && !isOwnedChain(chain.name) && !ensure.has(chain.name);
      const foreignRule = chain.rules.some((r) => r.tag === undefined);
      const policy = builtin && chain.policy !== undefined && chain.policy !== 'ACCEPT';
      if (foreignChain || foreignRule || policy) found.push({ kind: 'take-over', table, chain: chain.name });
    }
  }
  return found;
}

/** Nothing when live is exactly the desired ruleset; else the whole ruleset, to be restored without --noflush. */
export function planExclusive(desired: Ruleset, live: LiveState): Plan {
  const planned = planRestore(desired, live);
  const changes = [...planned.changes, ...foreignParts(desired, live)];
  return { text: changes.length > 0 ? `${exclusiveText(desired)}` : '', changes, written: planned.written, appended: new Map() };
}
