/**
 * The same decisions in a second table. Refusals that filter makes are made again in an
 * earlier table (mangle, or raw for what needs no conntrack), so that either table on its
 * own keeps a refused source out when an outside tool wipes the other one.
 *
 * Only filter can REJECT, and an earlier table that dropped would keep filter from ever
 * answering. So on the forwarded path a rejection is marked and accepted by mangle
 * (REJECT-LATER: no later mangle rule may drop it): filter rejects it, or — filter wiped —
 * mangle POSTROUTING's guard drops the marked packet (fail closed). Where no guard follows (raw, and traffic to the host itself,
 * which never reaches POSTROUTING) a rejection is a DROP.
 */
import type { Chain, Rule, Target } from '../ruleset/types.js';
import { REJECT_LATER } from './names.js';
import { drop, jump } from './rules.js';

/** How a mirrored table refuses what filter rejects. */
export type RejectAs = 'mark' | 'drop';

function mirrorTarget(t: Target, as: RejectAs): Target {
  if (t.kind !== 'REJECT') return t;
  return as === 'mark' ? jump(REJECT_LATER) : drop;
}

export function mirrorRule(r: Rule, as: RejectAs = 'mark'): Rule {
  return r.target.kind === 'REJECT' ? { ...r, target: mirrorTarget(r.target, as) } : r;
}

/** Chains are immutable: the mirror of the same chain object is the same object (the compile cache then finds it unchanged). */
const mirrors = new WeakMap<Chain, Partial<Record<RejectAs, Chain>>>();

export function mirrorChain(chain: Chain, as: RejectAs = 'mark'): Chain {
  let known = mirrors.get(chain);
  if (!known) mirrors.set(chain, (known = {}));
  return (known[as] ??= { ...chain, rules: chain.rules.map((r) => mirrorRule(r, as)) });
}
