/**
 * The same decisions in a second table. Refusals that filter makes are made again in an
 * earlier table (mangle, or raw for what needs no conntrack), so that either table on its
 * own keeps a refused source out when an outside tool wipes the other one. Only filter
 * can REJECT; elsewhere a rejection is a DROP (fail closed: the client waits instead of
 * being told).
 */
import type { Chain, Rule, Target } from '../ruleset/types.js';
import { drop } from './rules.js';

function mirrorTarget(t: Target): Target {
  return t.kind === 'REJECT' ? drop : t;
}

export function mirrorRule(r: Rule): Rule {
  return r.target.kind === 'REJECT' ? { ...r, target: mirrorTarget(r.target) } : r;
}

export function mirrorChain(chain: Chain): Chain {
  return { ...chain, rules: chain.rules.map(mirrorRule) };
}
