/**
 * Paths other than published ports — a container's outbound connections, direct
 * container-to-container traffic, the host dialling a container — as questions put to
 * the tracer: one new connection per line of the policy (a port and destination the line
 * covers), and one for what no line covers. The verdict and the deciding rule come from
 * the compiled rules the packet met, so the answer is what the kernel does; the policy
 * only says which questions are worth asking.
 */
import type { Action, PortRange } from '../policy/types.js';
import { CHAIN_PREFIX, type L4Protocol, type Ruleset } from '../ruleset/types.js';
import type { Attachment } from '../compile/model.js';
import { isSourceJump } from '../compile/names.js';
import { familyOfAddress, inCidr, isLocal, trace, type HostView, type Packet, type Step, type Trace } from '../trace/index.js';
import { ruleDecider, type NetworkNames } from './decider.js';
import type { Decider, PathLine } from './model.js';
import type { HostAddress } from './source.js';

export interface PathContext {
  readonly ruleset: Ruleset;
  readonly host: HostView;
  readonly networks: NetworkNames;
  /** The host's interface addresses, for a bridge whose gateway Docker does not report (the default bridge with its rules off). */
  readonly hostAddresses: readonly HostAddress[];
}

/** The host's address on a container's bridge: what the container dials to reach the host, and what the host sends from. */
export function gatewayOf(ctx: PathContext, a: Attachment): string | undefined {
  const reported = a.bridge.subnets.find((s) => s.gateway && inCidr(a.address, s.cidr))?.gateway;
  if (reported) return reported;
  return ctx.hostAddresses.find((h) => h.iface === a.bridge.iface && inCidr(a.address, h.cidr) && familyOfAddress(h.address) === ctx.ruleset.family)?.address;
}

export interface Question {
  readonly what: string;
  readonly packet: Packet;
  /** Who decides when no rule on the way carries the decision (an allowing default writes none). */
  readonly otherwise?: Decider;
}

export function portsText(range: PortRange | undefined): string {
  if (!range) return 'any port';
  return `${range.from === range.to ? range.from : `${range.from}-${range.to}`}/${range.protocol}`;
}

/** The lowest TCP port no range covers: what "other ports" is traced with. */
export function freePort(ranges: readonly (PortRange | undefined)[]): { protocol: L4Protocol; port: number } {
  const tcp = ranges.filter((r): r is PortRange => r !== undefined && r.protocol === 'tcp');
  let port = 1;
  for (let moved = true; moved && port <= 65535;) {
    moved = false;
    for (const r of tcp) {
      if (port >= r.from && port <= r.to) {
        port = r.to + 1;
        moved = true;
      }
    }
  }
  return { protocol: 'tcp', port: Math.min(port, 65535) };
}

/** Documentation addresses that stand in for "somewhere else": the first one no line names and that is not the host's or a container's. */
const ELSEWHERE: Readonly<Record<'ipv4' | 'ipv6', readonly string[]>> = {
  ipv4: ['192.0.2.254', '198.18.0.254', '100.64.0.254', '10.255.255.254'],
  ipv6: ['2001:db8::fe', '2001:db8:ffff::fe', 'fd00:ffff::fe'],
};

export function elsewhere(family: 'ipv4' | 'ipv6', named: readonly string[], host: HostView): string {
  const candidates = ELSEWHERE[family];
  const free = candidates.find((a) => !named.some((c) => inCidr(a, c)) && !isLocal(a, host.localAddresses)
    && !host.bridges.some((b) => inCidr(a, b.cidr)));
  return free ?? candidates[0]!;
}

const ACTION_OF: Readonly<Record<string, Action>> = { dropped: 'deny', rejected: 'reject' };

/** The rule that decided: the refusing one, else the last acceptance that names a decision (a jump into a source chain is one). */
function decisive(t: Trace, ctx: PathContext): Decider | undefined {
  const v = t.verdict;
  if (v.kind === 'dropped' || v.kind === 'rejected') {
    return ruleDecider(v.step.rule, ctx.networks) ?? (v.step.rule.note ? { kind: 'dockward', note: v.step.rule.note } : undefined);
  }
  for (let i = t.steps.length - 1; i >= 0; i--) {
    const s = t.steps[i]!;
    if (s.rule.target.kind !== 'ACCEPT' && !isSourceJump(s.rule.target)) continue;
    const d = ruleDecider(s.rule, ctx.networks);
    if (d) return d;
  }
  return undefined;
}

function chainsOf(steps: readonly Step[]): string[] {
  return [...new Set(steps.filter((s) => s.chain.startsWith(CHAIN_PREFIX)).map((s) => `${s.table} ${s.chain}`))];
}

export function tracePath(ctx: PathContext, q: Question): PathLine {
  const t = trace(ctx.ruleset, q.packet, ctx.host);
  const v = t.verdict;
  const decidedBy = decisive(t, ctx) ?? q.otherwise;
  const p = q.packet;
  return {
    what: q.what,
    packet: { source: p.source, iface: p.inIface, destination: p.destination, protocol: p.protocol, port: p.dport },
    action: ACTION_OF[v.kind] ?? 'allow', verdict: v.kind,
    ...(v.kind === 'rejected' ? { rejectWith: v.with } : {}),
    ...(decidedBy ? { decidedBy } : {}),
    chains: chainsOf(t.steps),
  };
}
