/**
 * The host itself (a host process, a host-network container) dialling a container's
 * address directly: one question per port of each `host.toContainers` rule that selects
 * the container (first match wins), then "other ports", which no rule decides: allowed,
 * as with Docker.
 */
import { directRanges } from '../compile/host.js';
import type { Attachment } from '../compile/model.js';
import { matchesAny } from '../policy/selector.js';
import type { Policy, PortRange } from '../policy/types.js';
import { FROM_HOST } from '../trace/index.js';
import type { HostDirectView } from './model.js';
import { freePort, gatewayOf, portsText, tracePath, type PathContext, type Question } from './paths.js';

export function hostDirectOf(ctx: PathContext, a: Attachment, policy: Policy): HostDirectView {
  const family = ctx.ruleset.family;
  // The host sends from its own address on the container's bridge.
  const source = gatewayOf(ctx, a) ?? a.address;
  const base = { family, source, inIface: FROM_HOST, destination: a.address } as const;
  const ranges: (PortRange | undefined)[] = [];
  const questions: Question[] = [];
  const otherwise = { kind: 'host' } as const;
  let all = false;
  for (const r of policy.host?.toContainers ?? []) {
    if (all || !matchesAny(r.containers, a.container)) continue;
    for (const range of directRanges(r)) {
      questions.push({ what: range || questions.length === 0 ? portsText(range) : 'other ports', packet: { ...base, protocol: range?.protocol ?? 'tcp', dport: range?.from ?? freePort(ranges).port }, otherwise });
      ranges.push(range);
      if (!range) all = true;
    }
  }
  if (!all) {
    const other = freePort(ranges);
    questions.push({ what: questions.length > 0 ? 'other ports' : 'any port', packet: { ...base, protocol: other.protocol, dport: other.port }, otherwise });
  }
  return { family, address: a.address, lines: questions.map((q) => tracePath(ctx, q)) };
}
