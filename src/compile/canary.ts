/**
 * The canary: one rule per table in DOCKWARD-CANARY, which the watchdog lists every few
 * hundred ms. Gone means the table was wiped. Its comment also carries a digest of the
 * table's desired rules (every chain's hash tags and the hooks), so an older copy of
 * dockward's own rules restored over the current ones (a saved iptables-save put back
 * after a policy change) shows too: its canary carries another digest.
 */
import { fastHash, hookTag } from '../ruleset/hash.js';
import { chainTags, memoise } from '../ruleset/render.js';
import type { Chain, Hook, Ruleset, TableName, Tables } from '../ruleset/types.js';
import { CANARY } from './names.js';
import { rule } from './rules.js';

/** The words after `canary` in the comment: 16 hex characters of the table's digest. */
export function tableDigest(table: TableName, chains: readonly Chain[], hooks: readonly Hook[]): string {
  // Rendering is remembered for these chains: the plan that follows needs the same tags.
  memoise(chains);
  const parts: string[] = [table];
  for (const chain of chains) {
    const tags = chainTags(chain);
    // In an ordered chain the last tag covers every rule before it; a set chain's tags stand alone.
    parts.push(chain.name, ...(chain.unordered ? tags : tags.slice(-1)));
  }
  for (const hook of hooks) parts.push(hookTag(table, hook.builtin, hook.rule));
  return fastHash(...parts);
}

export function canaryChain(table: TableName, chains: readonly Chain[], hooks: readonly Hook[]): Chain {
  return { name: CANARY, rules: [rule([], { kind: 'RETURN' }, `canary ${tableDigest(table, chains, hooks)}`)] };
}

/** Every table with its canary, in name order among its chains. The last step of a compile: the digest covers the final rules. */
export function withCanaries(ruleset: Ruleset): Ruleset {
  const tables = Object.fromEntries(Object.entries(ruleset.tables).map(([name, t]) => {
    const chains = [...t.chains, canaryChain(name as TableName, t.chains, t.hooks)];
    chains.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return [name, { ...t, chains }];
  })) as unknown as Tables;
  return { ...ruleset, tables };
}

/** The tag a live canary must carry for the table to be the desired one (undefined: the table has no canary). */
export function canaryTag(chains: readonly Chain[]): string | undefined {
  const canary = chains.find((c) => c.name === CANARY);
  return canary ? chainTags(canary)[0] : undefined;
}
