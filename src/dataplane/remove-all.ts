/**
 * Everything of dockward's out of the kernel: every owned chain and hook in both families,
 * then its own ipsets, which no rule matches any more (other tools' sets are never
 * touched). DOCKER-USER and the kernel settings stay. What `dockward flush` and
 * `run --flush-on-exit` do.
 */
import type { Family } from '../ruleset/types.js';
import { flushFamily } from './apply.js';
import type { Iptables } from './iptables.js';
import { removeStaleSets, type Ipset } from './ipset.js';

export interface Removed {
  /** Chains removed, per family. */
  readonly chains: Readonly<Record<Family, number>>;
  /** dockward's own ipsets destroyed. */
  readonly sets: readonly string[];
}

export async function removeAll(ipt: Iptables, ipset: Ipset): Promise<Removed> {
  const chains = { ipv4: 0, ipv6: 0 };
  // Rules first: a set still matched by a rule cannot be destroyed.
  for (const family of ['ipv4', 'ipv6'] as const) chains[family] = (await flushFamily(ipt, family)).length;
  return { chains, sets: await removeStaleSets(ipset, []) };
}
