/**
 * What a read-back found, in words for the log: which chain is missing or altered (and
 * from which rule on), which hook is gone or has a foreign rule above it. A repair is
 * logged with what it answers, so an operator can tell who touched the rules.
 */
import { hookTag } from '../ruleset/hash.js';
import type { LiveState, LiveTable } from '../ruleset/parse.js';
import type { Change } from '../ruleset/plan.js';
import { readLive } from '../dataplane/apply.js';
import { chainTags } from '../ruleset/render.js';
import type { Iptables } from '../dataplane/iptables.js';
import type { Ruleset, Table } from '../ruleset/types.js';

/** Findings for one family: empty when the live rules are the desired ones (deferred cleanups tolerated). */
export async function readDrift(ipt: Iptables, desired: Ruleset): Promise<string[]> {
  const { live, changes } = await readLive(ipt, desired, true);
  return changes.map((c) => `${desired.family} ${c.table}/${c.chain}: ${finding(c, desired, live)}`);
}

function finding(change: Change, desired: Ruleset, live: LiveState): string {
  const table = live.get(change.table) ?? new Map();
  switch (change.kind) {
    case 'write-chain': case 'edit-chain': return chainFinding(change.chain, desired.tables[change.table], table);
    case 'place-hook': return hookFinding(change, desired.tables[change.table], table);
    case 'create-chain': return 'chain missing';
    case 'delete-chain': case 'flush-chain': return 'a chain no longer wanted is still there';
    default: return 'rules that are not dockward\'s';
  }
}

function chainFinding(name: string, desired: Table, live: LiveTable): string {
  const current = live.get(name);
  if (!current) return 'chain missing';
  const chain = desired.chains.find((c) => c.name === name);
  const wanted = chain ? chainTags(chain) : [];
  if (chain?.unordered) {
    const want = new Set(wanted);
    const foreign = current.rules.filter((r) => r.tag === undefined || !want.has(r.tag)).length;
    const have = new Set(current.rules.map((r) => r.tag));
    return `altered: ${wanted.filter((t) => !have.has(t)).length} rules missing, ${foreign} unexpected`;
  }
  const at = wanted.findIndex((tag, i) => current.rules[i]?.tag !== tag);
  const first = at === -1 ? wanted.length : at;
  return `altered from rule ${first + 1} on (${current.rules.length} live, ${wanted.length} wanted)`;
}

function hookFinding(change: Change, desired: Table, live: LiveTable): string {
  const rules = live.get(change.chain)?.rules ?? [];
  const hooks = desired.hooks.filter((h) => h.builtin === change.chain);
  const tagged = hooks.map((h) => ({ tag: hookTag(change.table, h.builtin, h.rule), to: h.rule.target.kind === 'jump' ? h.rule.target.chain : h.rule.target.kind }));
  const missing = tagged.filter((h) => !rules.some((r) => r.tag === h.tag)).map((h) => h.to);
  if (missing.length > 0) return `hook missing (jump to ${missing.join(', ')})`;
  const first = rules.findIndex((r) => r.tag !== undefined);
  if (first > 0) return `foreign rule above the hooks: ${rules[0]!.text.slice(0, 120)}`;
  return 'hooks out of place or duplicated';
}
