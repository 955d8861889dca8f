/**
 * Outbound traffic: `defaults.outbound` and `egress:` rules, first match wins. Two ways
 * out of a bridge are governed:
 *   forwarded  to other hosts, leaving by a non-Docker interface (filter FORWARD, after
 *              every rule about traffic into bridges, so container-to-container paths and
 *              published ports are never taken for outbound traffic);
 *   to the host  a host address (its resolver, its services): filter INPUT.
 * Each container with lines of its own has one chain per way (E- forwarded, L- to the
 * host; the L- chain leaves out destinations given as an outbound interface, which
 * traffic to the host never has), reached from a dispatch keyed by its source address on
 * its bridge. What no line decides gets the default. Replies are never judged: a reply to
 * an allowed inbound connection always passes.
 *
 * Each table alone: the same chains and lines go to mangle FORWARD and mangle INPUT
 * (rejections as drops), so a refused destination stays refused while filter is wiped,
 * and the other way round. raw cannot help: before conntrack a reply is not told from a
 * new connection.
 */
import type { Container } from '../inventory/types.js';
import { matchesAny } from '../policy/selector.js';
import type { Action, EgressRule, Policy, SourceMatch } from '../policy/types.js';
import type { Chain, Family, Match, Rule } from '../ruleset/types.js';
import { hostCidr } from '../ruleset/tokens.js';
import type { Attachment, Bridge } from './model.js';
import { uncached, type PerContainer } from './cache.js';
import { EGRESS, EGRESS_HOST, egressChain, egressHostChain, INPUT } from './names.js';
import { accept, ctNew, ctReplies, drop, dst, inIf, jump, outIf, portRange, rejectFor, rule, src, verdict } from './rules.js';

export interface EgressChains {
  /** False when outbound traffic is allowed and no rule says otherwise: nothing is written. */
  readonly active: boolean;
  /** Dispatch and per-container chains of forwarded traffic, for filter (mangle mirrors them). */
  readonly forward: readonly Chain[];
  /** Dispatch and per-container chains of traffic to the host. */
  readonly host: readonly Chain[];
}

function note(r: EgressRule): string {
  return r.name ? `egress[${r.index}]:${r.name}` : `egress[${r.index}]`;
}

function familyOf(cidr: string): Family {
  return cidr.includes(':') ? 'ipv6' : 'ipv4';
}

/** A destination's matches, or undefined when it cannot match on this way in this family. */
function destination(to: SourceMatch, family: Family, toHost: boolean): Match[] | undefined {
  if (to.cidr !== undefined && familyOf(to.cidr) !== family) return undefined;
  if (to.iface !== undefined && toHost) return undefined;
  if (to.set !== undefined && to.setFamily !== family) return undefined;
  const inSet: Match[] = to.set !== undefined ? [{ kind: 'set', name: to.set, dir: 'dst' }] : [];
  return [...(to.cidr !== undefined ? [dst(to.cidr)] : []), ...(to.iface !== undefined ? [outIf(to.iface)] : []), ...inSet];
}

function linesFor(c: Container, rules: readonly EgressRule[], family: Family, toHost: boolean): Rule[] {
  const lines: Rule[] = [];
  for (const r of rules) {
    if (!matchesAny(r.containers, c)) continue;
    for (const to of r.to) {
      const where = destination(to, family, toHost);
      if (!where) continue;
      for (const range of r.ports ?? [undefined]) {
        lines.push(rule([...where, ...portRange(range)], verdict(r.action, range?.protocol, family), note(r)));
      }
    }
  }
  return lines;
}

/** The default as rules: a rejection answers TCP with a reset, the rest with port-unreachable. */
export function defaultLines(matches: readonly Match[], action: Action, family: Family, note: string): Rule[] {
  if (action === 'allow') return [rule(matches, accept, note)];
  const last = rule(matches, action === 'deny' ? drop : rejectFor(undefined, family), note);
  if (action === 'deny') return [last];
  return [rule([...matches, { kind: 'protocol', protocol: 'tcp' }], rejectFor('tcp', family), note), last];
}

interface Way {
  readonly dispatch: string;
  readonly chain: (id: string) => string;
  readonly toHost: boolean;
}

const WAYS: readonly Way[] = [
  { dispatch: EGRESS, chain: egressChain, toHost: false },
  { dispatch: EGRESS_HOST, chain: egressHostChain, toHost: true },
];

/** One attachment's share of a way: the container's chain and its dispatch line, if it has lines. */
function wayPart(way: Way, a: Attachment, rules: readonly EgressRule[], family: Family): { chain: Chain; dispatch: Rule } | undefined {
  const lines = linesFor(a.container, rules, family, way.toHost);
  if (lines.length === 0) return undefined;
  const name = way.chain(a.container.id);
  return { chain: { name, rules: lines }, dispatch: rule([src(hostCidr(family, a.address)), inIf(a.bridge.iface)], jump(name)) };
}

function wayChains(way: Way, rules: readonly EgressRule[], attachments: readonly Attachment[], family: Family, memo: PerContainer): Chain[] {
  const chains = new Map<string, Chain>();
  const dispatch: Rule[] = [];
  const slot = `${way.dispatch}/${family}`;
  for (const a of attachments) {
    // Depends on the attachment alone (the container's, on one bridge; the model hands out the same object again).
    const part = memo(a, slot, () => wayPart(way, a, rules, family));
    if (!part) continue;
    if (!chains.has(part.chain.name)) chains.set(part.chain.name, part.chain);
    dispatch.push(part.dispatch);
  }
  // Keyed by source address and bridge: no two lines match the same packet.
  return [...chains.values(), { name: way.dispatch, rules: dispatch, unordered: true }];
}

function outboundDefault(policy: Policy): Action {
  return policy.defaults.outbound ?? 'allow';
}

/**
 * DOCKWARD-INPUT's lines for containers: new connections from each bridge to the host,
 * judged per container, then the default. In coexist mode an allowing default leaves the
 * packet to the host's own INPUT rules; in exclusive mode (`owner`) there are none, so it
 * accepts.
 */
export function containerInputLines(egress: EgressChains, policy: Policy, bridges: readonly Bridge[], family: Family, owner: boolean): Rule[] {
  const action = outboundDefault(policy);
  return bridges.flatMap((b) => [
    ...(egress.active ? [rule([inIf(b.iface), ctNew], jump(EGRESS_HOST))] : []),
    ...(action === 'allow' && !owner ? [] : defaultLines([inIf(b.iface), ctNew], action, family, 'outbound')),
  ]);
}

/** Coexist mode's DOCKWARD-INPUT: only when outbound rules exist. */
export function coexistInput(egress: EgressChains, policy: Policy, bridges: readonly Bridge[], family: Family): Chain[] {
  if (!egress.active) return [];
  // IPv6 neighbour discovery with the gateway is what makes a container's IPv6 work at all: never judged here.
  const icmp6: Rule[] = family === 'ipv6' ? [rule([{ kind: 'protocol', protocol: 'ipv6-icmp' }], { kind: 'RETURN' }, 'icmpv6')] : [];
  return [{ name: INPUT, rules: [...icmp6, ...containerInputLines(egress, policy, bridges, family, false)] }];
}

export function egressChains(policy: Policy, attachments: readonly Attachment[], family: Family, memo: PerContainer = uncached): EgressChains {
  const rules = policy.egress ?? [];
  const action = outboundDefault(policy);
  if (rules.length === 0 && action === 'allow') return { active: false, forward: [], host: [] };
  const [forward, host] = WAYS.map((way) => wayChains(way, rules, attachments, family, memo));
  return { active: true, forward: forward ?? [], host: host ?? [] };
}

/**
 * filter FORWARD, traffic leaving bridge `b` for elsewhere: replies pass, then the
 * container's own lines, then the default. Internal networks keep their drop.
 */
export function outboundLines(b: Bridge, egress: EgressChains, policy: Policy, family: Family): Rule[] {
  if (b.internal) return [rule([inIf(b.iface)], drop, 'internal')];
  if (!egress.active) return [rule([inIf(b.iface)], accept, 'outbound')];
  return [
    rule([inIf(b.iface), ctReplies], accept),
    rule([inIf(b.iface)], jump(EGRESS)),
    ...defaultLines([inIf(b.iface)], outboundDefault(policy), family, 'outbound'),
  ];
}
