/**
 * The canary: one rule per table in DOCKWARD-CANARY, which the watchdog lists every few
 * hundred ms. Gone means the table was wiped. Its comment also carries a digest of the
 * policy in force, so an older copy of dockward's own rules restored over the current ones
 * (an iptables-save taken before a policy change, put back by an iptables service restart)
 * shows too: its canary names another policy.
 *
 * Why the policy and not the table's rules: a digest of the rules changes with every
 * container start, and rewriting the canaries of every table on each Docker event made an
 * event cost half as much again on nft. An older copy from the same policy (from before
 * some container changes) is the read-back's to find (within a second on nft).
 */
import { fastHash } from '../ruleset/hash.js';
import { chainTags } from '../ruleset/render.js';
import type { Chain, Ruleset, TableName, Tables } from '../ruleset/types.js';
import type { Policy } from '../policy/types.js';
import { CANARY } from './names.js';
import { rule } from './rules.js';

/** One canary chain per policy: the same object compile after compile, so an event's plan skips it. */
const canaries = new WeakMap<Policy, Chain>();

/**
 * 16 hex characters naming the policy: the same policy gives the same digest in any process.
 * Not where it was read from: `plan --policy policy.yaml` beside a daemon started with the
 * absolute path must see the same canaries, or the two would take turns rewriting them.
 */
export function policyDigest(policy: Policy): string {
  const { origin: _where, ...substance } = policy;
  return fastHash(JSON.stringify(substance));
}

function canaryOf(policy: Policy): Chain {
  let canary = canaries.get(policy);
  if (!canary) {
    canary = { name: CANARY, rules: [rule([], { kind: 'RETURN' }, `canary ${policyDigest(policy)}`)] };
    canaries.set(policy, canary);
  }
  return canary;
}

/** Every table with its canary, first among its chains (a table commits whole: where it sits does not matter). */
export function withCanaries(ruleset: Ruleset, policy: Policy): Ruleset {
  const canary = canaryOf(policy);
  const tables = Object.fromEntries(Object.entries(ruleset.tables).map(([name, t]) => [name as TableName, { ...t, chains: [canary, ...t.chains] }])) as unknown as Tables;
  return { ...ruleset, tables };
}

/** The tag a live canary must carry for the table to be the desired one (undefined: the table has no canary). */
export function canaryTag(chains: readonly Chain[]): string | undefined {
  const canary = chains.find((c) => c.name === CANARY);
  return canary ? chainTags(canary)[0] : undefined;
}
