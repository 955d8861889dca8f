/**
 * A container's outbound connections: one question per destination and port of each
 * egress rule that selects it (file order, first match wins), then two for what no rule
 * names — somewhere else, and the host itself (its gateway address) — which the
 * default decides.
 */
import type { Attachment } from '../compile/model.js';
import type { Container } from '../inventory/types.js';
import { matchesAny } from '../policy/selector.js';
import type { EgressRule, Policy, PortRange, SourceMatch } from '../policy/types.js';
import type { Family } from '../ruleset/types.js';
import { familyOfAddress, inCidr } from '../trace/index.js';
import type { OutboundView } from './model.js';
import { elsewhere, freePort, gatewayOf, portsText, tracePath, type PathContext, type Question } from './paths.js';

interface Line {
  readonly rule: EgressRule;
  readonly to: SourceMatch;
  readonly range: PortRange | undefined;
}

function usable(to: SourceMatch, family: Family): boolean {
  if (to.cidr !== undefined && familyOfAddress(to.cidr.split('/')[0]!) !== family) return false;
  return to.set === undefined || to.setFamily === undefined || to.setFamily === family;
}

function linesFor(c: Container, policy: Policy, family: Family): Line[] {
  return (policy.egress ?? []).filter((r) => matchesAny(r.containers, c)).flatMap((rule) =>
    rule.to.filter((to) => usable(to, family)).flatMap((to) => (rule.ports ?? [undefined]).map((range) => ({ rule, to, range }))));
}

/** "zone:resolvers (192.0.2.53/32)", "198.51.100.2", "anywhere": a zone with what it stands for here. */
function destinationText(to: SourceMatch): string {
  if (to.label === 'any') return 'anywhere';
  if (!to.label.startsWith('zone:')) return to.label;
  const detail = [to.cidr, to.iface ? `out of ${to.iface}` : undefined, to.set ? `ipset ${to.set}` : undefined].filter(Boolean).join(', ');
  return detail ? `${to.label} (${detail})` : to.label;
}

/** Matches every destination and port: nothing after it can decide. */
function catchesAll(l: Line): boolean {
  return l.range === undefined && l.to.cidr === undefined && l.to.iface === undefined && l.to.set === undefined;
}

export function outboundOf(ctx: PathContext, a: Attachment, policy: Policy): OutboundView {
  const family = ctx.ruleset.family;
  const all = linesFor(a.container, policy, family);
  const cut = all.findIndex(catchesAll);
  const lines = cut < 0 ? all : all.slice(0, cut + 1);
  const named = lines.flatMap((l) => (l.to.cidr ? [l.to.cidr] : []));
  const away = elsewhere(family, named, ctx.host);
  const base = { family, source: a.address, inIface: a.bridge.iface } as const;
  const questions: Question[] = lines.map((l) => ({
    what: `${destinationText(l.to)} ${portsText(l.range)}`,
    packet: {
      ...base, destination: l.to.cidr?.split('/')[0] ?? away, protocol: l.range?.protocol ?? 'tcp', dport: l.range?.from ?? freePort([]).port,
      ...(l.to.iface ? { via: l.to.iface.replace(/\+$/, '0') } : {}),
    },
  }));
  if (cut < 0) {
    const other = freePort(lines.map((l) => l.range));
    const otherwise = { kind: 'default', setting: 'defaults.outbound' } as const;
    questions.push({ what: 'anywhere else, other ports', packet: { ...base, destination: away, protocol: other.protocol, dport: other.port }, otherwise });
    const gateway = gatewayOf(ctx, a);
    if (gateway) {
      const reaching = lines.filter((l) => l.to.iface === undefined && (l.to.cidr === undefined || inCidr(gateway, l.to.cidr)));
      const toHost = freePort(reaching.map((l) => l.range));
      questions.push({ what: `the host itself (${gateway}), other ports`, packet: { ...base, destination: gateway, protocol: toHost.protocol, dport: toHost.port }, otherwise });
    }
  }
  return { family, network: a.bridge.name, address: a.address, lines: questions.map((q) => tracePath(ctx, q)) };
}
