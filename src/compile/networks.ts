/**
 * Per-network rules: outbound masquerade, isolation between networks, ICC, and refusal of
 * direct (routed, untranslated) access to container addresses — in raw before conntrack,
 * and again in filter, so either table alone keeps outsiders off the container subnets.
 */
import type { Chain, Family, Rule, Target } from '../ruleset/types.js';
import type { Bridge } from './model.js';
import { mirrorChain } from './mirror.js';
import { CONNECT, FORWARD, HAIRPIN, POSTROUTING, PREROUTING, PUBLISH } from './names.js';
import { accept, ctDnat, ctReplies, drop, dst, inIf, jump, localSrc, masquerade, notLocalDst, outIf, rule, src } from './rules.js';

export interface NetworkChains {
  readonly raw: Chain;
  readonly mangleGuard: Chain;
  readonly natPostrouting: Chain;
  readonly filterForward: Chain;
  readonly mangleForward: Chain;
}

/**
 * raw: nothing from outside a bridge may address its containers directly (replies to
 * masqueraded traffic arrive addressed to the host, so they are not caught). The bridge's
 * own addresses (the gateway) are the host's: `! --dst-type LOCAL` spares them without
 * relying on Docker to report the gateway, which it does not for the default bridge.
 */
function directAccess(b: Bridge): Rule[] {
  // A network without masquerade gets replies addressed to its containers: leave it to filter's conntrack rules.
  // nat-unprotected opens every container port to direct routing by definition.
  if ((!b.masquerade && !b.internal) || b.gatewayMode === 'nat-unprotected') return [];
  return b.subnets.map((s) => rule([dst(s.cidr), inIf(b.iface, true), notLocalDst], drop, 'direct'));
}

/**
 * filter, traffic entering a bridge: replies, published ports, ICC, then nothing else.
 * With ICC off, containers of the bridge do not reach each other through a published
 * port on a host address either (as with Docker): the ICC drop comes before the ports.
 */
function toBridge(b: Bridge, published: Rule[], connect: boolean, family: Family): Rule[] {
  // Direct paths the policy's `connections` decide come before ICC and isolation.
  const paths = [...(connect ? [rule([outIf(b.iface)], jump(CONNECT))] : []),
    rule([inIf(b.iface), outIf(b.iface)], b.icc ? accept : drop, b.icc ? 'icc' : 'icc-off')];
  if (b.internal) return [...paths, rule([outIf(b.iface)], drop, 'internal')];
  const replies = rule([outIf(b.iface), ctReplies], accept);
  const open = [...published, ...routedIcmp(b, family)];
  const ordered = b.icc ? [...open, ...paths] : [...paths, ...open];
  // nat-unprotected: whatever reaches the bridge from elsewhere is let in (Docker 28's option, opted into per network).
  const last = b.gatewayMode === 'nat-unprotected' ? rule([outIf(b.iface)], accept, 'unprotected') : rule([outIf(b.iface)], drop, 'isolation');
  return [replies, ...ordered, last];
}

/**
 * Routed networks answer ICMP from anywhere (ping, and the errors path MTU discovery needs),
 * as Docker 28's rules do (`-o br -p icmp|icmpv6 -j ACCEPT` in DOCKER); unpublished ports stay closed.
 */
function routedIcmp(b: Bridge, family: Family): Rule[] {
  if (b.gatewayMode !== 'routed') return [];
  return [rule([outIf(b.iface), { kind: 'protocol', protocol: family === 'ipv4' ? 'icmp' : 'ipv6-icmp' }], accept, 'routed-icmp')];
}

/** filter: translated traffic goes to the published ports' chains; what none claims (stale or foreign DNAT) is refused. */
function filterPublished(b: Bridge): Rule[] {
  // Routed: published ports are dialled at the container's address, untranslated.
  if (b.gatewayMode === 'routed') return [rule([outIf(b.iface)], jump(PUBLISH))];
  return [rule([outIf(b.iface), ctDnat], jump(PUBLISH)), rule([outIf(b.iface), ctDnat], drop, 'unclaimed')];
}

/** mangle: published ports were judged before DNAT (mangle PREROUTING); translated traffic passes here. */
function manglePublished(b: Bridge): Rule[] {
  // Routed: the published ports' verdicts are filter's alone (nothing is translated to judge before).
  if (b.gatewayMode === 'routed') return [rule([outIf(b.iface)], accept, 'routed')];
  return [rule([outIf(b.iface), ctDnat], accept)];
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

/** How each bridge's outbound traffic is decided (see egress.ts); by default, allowed. */
export type Outbound = (b: Bridge) => Rule[];

export function networkChains(bridges: readonly Bridge[], family: Family, rejectMark: number, connect: ReadonlySet<string> = new Set(), outbound: Outbound = (b) => [fromBridge(b)]): NetworkChains {
  const guard = bridges.filter((b) => !b.internal)
    .map((b) => rule([outIf(b.iface), { kind: 'mark', value: rejectMark, mask: rejectMark }], drop, 'reject-guard'));
  return {
    raw: { name: PREROUTING, rules: bridges.flatMap(directAccess) },
    mangleGuard: { name: POSTROUTING, rules: guard },
    natPostrouting: { name: POSTROUTING, rules: [rule([ctDnat], jump(HAIRPIN)), ...bridges.flatMap(masquerading)] },
    // Every rule for traffic into bridges comes before any outbound accept, or a packet from
    // one network to another would be accepted as the first network's outbound traffic.
    filterForward: { name: FORWARD, rules: [...bridges.flatMap((b) => toBridge(b, filterPublished(b), connect.has(b.iface), family)), ...bridges.flatMap(outbound)] },
    // The same decisions again in mangle FORWARD, so ICC off, isolation and `connections`
    // hold while filter alone is wiped (see mirror.ts).
    mangleForward: mirrorChain({ name: FORWARD, rules: [...bridges.flatMap((b) => toBridge(b, manglePublished(b), connect.has(b.iface), family)), ...bridges.flatMap(outbound)] }),
  };
}
