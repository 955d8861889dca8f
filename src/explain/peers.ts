/**
 * Direct container-to-container paths of one container, both ways: for every other
 * container, one question per port of each `connections` rule (and legacy link) from it
 * to the other (first match wins), then "other ports", which the network's ICC setting
 * (same network) or isolation (across networks) decides.
 *
 * The source of a dial to an address on network N is the dialler's own address on N when
 * it is on N (the route is direct), else its first network's: its default route.
 */
import { byContainer } from '../compile/connections.js';
import type { Attachment } from '../compile/model.js';
import type { Container } from '../inventory/types.js';
import { matchesAny } from '../policy/selector.js';
import type { ConnectionRule, PortRange } from '../policy/types.js';
import type { Decider, PathLine, PeerView } from './model.js';
import { freePort, portsText, tracePath, type PathContext, type Question } from './paths.js';

/** Refused by raw's "nothing from outside a bridge addresses its containers" rule: for a container on another network, that is isolation. */
function named(d: Decider | undefined): Decider | undefined {
  return d?.kind === 'dockward' && d.note === 'direct' ? { kind: 'isolation' } : d;
}

function sourceFor(from: readonly Attachment[], to: Attachment): Attachment | undefined {
  return from.find((a) => a.bridge.id === to.bridge.id) ?? from[0];
}

function linesBetween(ctx: PathContext, rules: readonly ConnectionRule[], src: Attachment, dst: Attachment): PathLine[] {
  const ranges: (PortRange | undefined)[] = [];
  const questions: Question[] = [];
  const base = { family: ctx.ruleset.family, source: src.address, inIface: src.bridge.iface, destination: dst.address } as const;
  let all = false;
  for (const r of rules) {
    if (all || !matchesAny(r.from, src.container) || !matchesAny(r.to, dst.container)) continue;
    for (const range of r.ports ?? [undefined]) {
      questions.push({ what: range || questions.length === 0 ? portsText(range) : 'other ports', packet: { ...base, protocol: range?.protocol ?? 'tcp', dport: range?.from ?? freePort(ranges).port } });
      ranges.push(range);
      if (!range) all = true;
    }
  }
  if (!all) {
    const other = freePort(ranges);
    questions.push({ what: questions.length > 0 ? 'other ports' : 'any port', packet: { ...base, protocol: other.protocol, dport: other.port } });
  }
  return questions.map((q) => {
    const line = tracePath(ctx, q);
    const decidedBy = named(line.decidedBy);
    return decidedBy ? { ...line, decidedBy } : line;
  });
}

function view(ctx: PathContext, direction: 'in' | 'out', peer: Attachment, own: Attachment, lines: PathLine[]): PeerView {
  return {
    direction, family: ctx.ruleset.family, peer: peer.container.name, peerAddress: peer.address, address: own.address,
    ...(peer.bridge.id === own.bridge.id ? { sharedNetwork: own.bridge.name } : {}), lines,
  };
}

export function peersOf(ctx: PathContext, c: Container, attachments: readonly Attachment[], rules: readonly ConnectionRule[]): PeerView[] {
  // The model's attachments hold the inventory's container objects, `c` among them.
  const groups = byContainer(attachments);
  const own = groups.get(c) ?? [];
  const out: PeerView[] = [];
  for (const [container, theirs] of groups) {
    if (container === c) continue;
    for (const mine of own) {
      const from = sourceFor(theirs, mine);
      if (from) out.push(view(ctx, 'in', from, mine, linesBetween(ctx, rules, from, mine)));
    }
    for (const them of theirs) {
      const from = sourceFor(own, them);
      if (from) out.push(view(ctx, 'out', them, from, linesBetween(ctx, rules, from, them)));
    }
  }
  return out;
}
