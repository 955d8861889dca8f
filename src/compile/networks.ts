/**
 * Per-network rules: outbound masquerade, isolation between networks, ICC, and refusal of
 * direct (routed, untranslated) access to container addresses — in raw before conntrack,
 * and again in filter, so either table alone keeps outsiders off the container subnets.
 */
import type { Chain, Family, Rule, Target } from '../ruleset/types.js';
import { hostCidr } from '../ruleset/tokens.js';
import type { Bridge } from './model.js';
import { FORWARD, HAIRPIN, POSTROUTING, PREROUTING, PUBLISH } from './names.js';
import { accept, ctDnat, ctReplies, drop, dst, inIf, jump, localSrc, masquerade, outIf, ret, rule, src } from './rules.js';

export interface NetworkChains {
  readonly raw: Chain;
  readonly mangleGuard: Chain;
  readonly natPostrouting: Chain;
  readonly filterForward: Chain;
}

/** raw: nothing from outside a bridge may address its containers directly (replies arrive pre-NAT to the host). */
function directAccess(b: Bridge, family: Family): Rule[] {
  // A network without masquerade gets replies addressed to its containers: leave it to filter's conntrack rules.
  if (!b.masquerade && !b.internal) return [];
  return b.subnets.flatMap((s) => [
    ...(s.gateway ? [rule([dst(hostCidr(family, s.gateway))], ret, 'gateway')] : []),
    rule([dst(s.cidr), inIf(b.iface, true)], drop, 'direct'),
  ]);
}

/** filter, traffic entering a bridge: replies, published ports, ICC, then nothing else. */
function toBridge(b: Bridge): Rule[] {
  const icc = rule([inIf(b.iface), outIf(b.iface)], b.icc ? accept : drop, b.icc ? 'icc' : 'icc-off');
  if (b.internal) return [icc, rule([outIf(b.iface)], drop, 'internal')];
  return [
    rule([outIf(b.iface), ctReplies], accept),
    rule([outIf(b.iface), ctDnat], jump(PUBLISH)),
    icc,
    rule([outIf(b.iface)], drop, 'isolation'),
  ];
}

/** filter, traffic leaving a bridge for elsewhere: allowed unless the network is internal. */
function fromBridge(b: Bridge): Rule {
  return rule([inIf(b.iface)], b.internal ? drop : accept, b.internal ? 'internal' : 'outbound');
}

function masquerading(b: Bridge): Rule[] {
  if (b.internal) return [];
  const leave: Target = b.snatTo ? { kind: 'SNAT', to: b.snatTo } : masquerade;
  const hostHairpin = rule([outIf(b.iface), localSrc], leave, 'host-hairpin');
  const outbound = b.masquerade ? b.subnets.map((s) => rule([src(s.cidr), outIf(b.iface, true)], leave, 'outbound')) : [];
  return [hostHairpin, ...outbound];
}

export function networkChains(bridges: readonly Bridge[], family: Family, rejectMark: number): NetworkChains {
  const guard = bridges.filter((b) => !b.internal)
    .map((b) => rule([outIf(b.iface), { kind: 'mark', value: rejectMark, mask: rejectMark }], drop, 'reject-guard'));
  return {
    raw: { name: PREROUTING, rules: bridges.flatMap((b) => directAccess(b, family)) },
    mangleGuard: { name: POSTROUTING, rules: guard },
    natPostrouting: { name: POSTROUTING, rules: [rule([ctDnat], jump(HAIRPIN)), ...bridges.flatMap(masquerading)] },
    // Every rule for traffic into bridges comes before any outbound accept, or a packet from
    // one network to another would be accepted as the first network's outbound traffic.
    filterForward: { name: FORWARD, rules: [...bridges.flatMap(toBridge), ...bridges.map(fromBridge)] },
  };
}
