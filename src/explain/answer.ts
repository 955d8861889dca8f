/**
 * Questions about one binding, put to the tracer over the compiled rules: would a new
 * connection from this source get to the container? The policy's own access list is
 * only used to name the deciding rule where the rules carry no name (a binding open to
 * everyone has no per-source rules), and to check that rules and policy agree.
 */
import type { AccessLine } from '../compile/access.js';
import type { Binding, Publication } from '../compile/model.js';
import type { Action } from '../policy/types.js';
import { targetArgs, ruleBody } from '../ruleset/render.js';
import type { Family, Ruleset } from '../ruleset/types.js';
import { familyOfAddress, FROM_HOST, ifaceMatches, inCidr, trace, type HostView, type Step, type Trace } from '../trace/index.js';
import { deciderText, lineDecider, ruleDecider, type NetworkNames } from './decider.js';
import type { Answer, Decider, PathStep } from './model.js';
import { isDialable, UNNAMED_IFACE, type HostAddress, type Source } from './source.js';

export interface BindingContext {
  readonly ruleset: Ruleset;
  readonly host: HostView;
  readonly hostAddresses: readonly HostAddress[];
  readonly publication: Publication;
  readonly binding: Binding;
  readonly lines: readonly AccessLine[];
  /** The host address to dial for a binding on every address when the question implies none. */
  readonly defaultDestination: string;
  /** Container addresses → names, to say who a packet was delivered to. */
  readonly names: ReadonlyMap<string, string>;
  /** Bridges and ICC overrides, to name an ICC decision. */
  readonly networks: NetworkNames;
}

/** A source address for an access line that names none: documentation ranges, never a host's. */
const STAND_IN_SOURCE: Readonly<Record<Family, string>> = { ipv4: '192.0.2.254', ipv6: '2001:db8::fe' };

function firstMatching(lines: readonly AccessLine[], address: string, iface: string): AccessLine | undefined {
  return lines.find((l) => (l.source.cidr === undefined || inCidr(address, l.source.cidr))
    && (l.source.iface === undefined || ifaceMatches(l.source.iface, iface)));
}

/** A routed network (gateway_mode routed) translates nothing: clients dial the container's own address and port. */
export function isRouted(p: Publication): boolean {
  return p.bridge.gatewayMode === 'routed';
}

/** A binding on the host's loopback (127.0.0.1, ::1): only the host itself can dial it (unless routed, where the host address plays no part). */
export function isLoopback(b: Binding): boolean {
  return b.hostIp !== undefined && (inCidr(b.hostIp, '127.0.0.0/8') || inCidr(b.hostIp, '::1/128'));
}

function destinationFor(ctx: BindingContext, source: Source): string {
  if (isRouted(ctx.publication)) return ctx.publication.address;
  if (ctx.binding.hostIp) return ctx.binding.hostIp;
  // The host dialling one of its own addresses: the one it was asked about.
  if (source.iface === FROM_HOST && source.address) return source.address;
  const family = ctx.ruleset.family;
  const onLink = ctx.hostAddresses.find((h) => h.iface === source.iface && familyOfAddress(h.address) === family && isDialable(h.address));
  return onLink?.address ?? ctx.defaultDestination;
}

function pathStep(s: Step): PathStep {
  return {
    table: s.table, chain: s.chain, index: s.index, rule: ruleBody(s.rule), target: targetArgs(s.rule.target).join(' '),
    ...(s.rule.note ? { note: s.rule.note } : {}),
  };
}

/** Source NAT on the way out carries the note of why it is there (a container's outbound traffic), not a decision about this connection. */
const NOT_DECISIONS = new Set(['SNAT', 'MASQUERADE']);

function lastPolicyDecider(t: Trace, ctx: BindingContext): Decider | undefined {
  for (let i = t.steps.length - 1; i >= 0; i--) {
    const rule = t.steps[i]?.rule;
    if (!rule || NOT_DECISIONS.has(rule.target.kind)) continue;
    const d = ruleDecider(rule, ctx.networks);
    if (d) return d;
  }
  return undefined;
}

function decidedBy(t: Trace, ctx: BindingContext): Decider | undefined {
  const v = t.verdict;
  if (v.kind === 'dropped' || v.kind === 'rejected') {
    const note = v.step.rule.note;
    return ruleDecider(v.step.rule, ctx.networks) ?? (note ? { kind: 'dockward', note } : lastPolicyDecider(t, ctx));
  }
  if (v.kind !== 'delivered') return undefined;
  const named = lastPolicyDecider(t, ctx);
  if (named) return named;
  if (t.packet.inIface === FROM_HOST) return { kind: 'host' };
  const line = firstMatching(ctx.lines, t.packet.source, t.packet.inIface);
  return line ? lineDecider(line) : undefined;
}

/**
 * A TCP reset that filter FORWARD sends for a translated connection from a container (it
 * came in through a bridge port) leaves straight out of that port, before NAT can put back
 * the address the container dialled: the container's stack ignores it and sees a timeout.
 */
function resetLost(t: Trace, ctx: BindingContext): boolean {
  const v = t.verdict;
  return v.kind === 'rejected' && v.with === 'tcp-reset' && v.step.table === 'filter' && t.dnat !== undefined
    && ctx.host.bridges.some((b) => b.iface === t.packet.inIface);
}

function reachesBinding(t: Trace, ctx: BindingContext): boolean {
  const v = t.verdict;
  return v.kind === 'delivered' && inCidr(v.address, ctx.publication.address) && v.port === ctx.binding.containerPort;
}

function answerOf(t: Trace, ctx: BindingContext): Answer {
  const v = t.verdict;
  const decider = decidedBy(t, ctx);
  const iface = t.packet.inIface === UNNAMED_IFACE ? null : t.packet.inIface;
  const lost = resetLost(t, ctx);
  return {
    source: t.packet.source, iface, destination: t.packet.destination, port: t.packet.dport,
    allowed: reachesBinding(t, ctx), verdict: lost ? 'dropped' : v.kind,
    ...(v.kind === 'rejected' ? (lost ? { rejectUnseen: v.with } : { rejectWith: v.with }) : {}),
    ...(v.kind === 'delivered' ? { deliveredTo: { address: v.address, port: v.port, ...nameOf(ctx, v.address) } } : {}),
    ...(decider ? { decidedBy: decider } : {}),
    path: t.steps.map(pathStep),
    ...(t.opaque.length > 0 ? { notTraced: t.opaque } : {}),
  };
}

function nameOf(ctx: BindingContext, address: string): { container?: string } {
  const name = ctx.names.get(address);
  return name === undefined ? {} : { container: name };
}

function traceFrom(ctx: BindingContext, source: Source): Trace {
  const destination = destinationFor(ctx, source);
  const b = ctx.binding;
  return trace(ctx.ruleset, {
    family: ctx.ruleset.family, protocol: b.protocol, destination, dport: isRouted(ctx.publication) ? b.containerPort : b.hostPort,
    // The host sends from the address it dials, as the kernel picks it for a local destination.
    source: source.address ?? destination, inIface: source.iface ?? UNNAMED_IFACE,
  }, ctx.host);
}

/** The `--from` question for this binding. */
export function ask(ctx: BindingContext, source: Source): Answer {
  return answerOf(traceFrom(ctx, source), ctx);
}

/** The host's own connection to this binding. */
export function hostAccess(ctx: BindingContext): { allowed: boolean; decidedBy?: Decider } {
  const a = ask(ctx, { iface: FROM_HOST, how: 'given' });
  return a.decidedBy ? { allowed: a.allowed, decidedBy: a.decidedBy } : { allowed: a.allowed };
}

const EXPECTED: Readonly<Record<Action, string>> = { allow: 'delivered', deny: 'dropped', reject: 'rejected' };

/**
 * For each access line, a source it covers is traced; the rules must do what the first
 * line covering that source says. A disagreement is a bug in dockward: say so loudly.
 */
export function checkLines(ctx: BindingContext): string[] {
  if (isLoopback(ctx.binding) && !isRouted(ctx.publication)) return checkLoopback(ctx);
  const problems: string[] = [];
  for (const line of ctx.lines) {
    const address = line.source.cidr?.split('/')[0] ?? STAND_IN_SOURCE[ctx.ruleset.family];
    const iface = line.source.iface === undefined ? UNNAMED_IFACE : line.source.iface.replace(/\+$/, '0');
    const t = traceFrom(ctx, { address, iface, how: 'given' });
    const decisive = firstMatching(ctx.lines, address, iface) ?? line;
    const got = reachesBinding(t, ctx) ? 'delivered' : t.verdict.kind;
    if (got !== EXPECTED[decisive.action]) {
      problems.push(`${ctx.binding.hostPort}/${ctx.binding.protocol}: the rules give "${got}" for ${address} on ${iface}, `
        + `but the policy says ${decisive.action} (${deciderText(lineDecider(decisive))}); this is a bug in dockward, please report it`);
    }
  }
  return problems;
}

/**
 * A loopback binding is the host's alone: the policy's lines do not come into it, and a
 * neighbour's packet to 127/8 must be dropped before anything else (raw's loopback guard).
 * IPv6 needs no rule: the kernel itself never accepts ::1 from outside.
 */
function checkLoopback(ctx: BindingContext): string[] {
  if (ctx.ruleset.family !== 'ipv4') return [];
  const address = STAND_IN_SOURCE.ipv4;
  const t = traceFrom(ctx, { address, iface: UNNAMED_IFACE, how: 'given' });
  const got = reachesBinding(t, ctx) ? 'delivered' : t.verdict.kind;
  if (got === 'dropped') return [];
  return [`${ctx.binding.hostPort}/${ctx.binding.protocol}: the rules give "${got}" for ${address} dialling ${ctx.binding.hostIp ?? ''}, `
    + 'but only the host itself may reach a loopback binding; this is a bug in dockward, please report it'];
}
