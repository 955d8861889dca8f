/**
 * `host.toContainers`: traffic the host itself sends to containers (host processes,
 * host-network containers), on both of its ways:
 *   through a published port on a host address or 127.0.0.1 — nat OUTPUT translates it
 *   (always: a refusal is an explicit verdict, never "not translated", or the host would
 *   talk to dockerd's own listener instead);
 *   straight to a container's address.
 * First match wins; what no rule decides is allowed, as with Docker.
 *
 * Each table alone keeps a refused connection out:
 *   filter OUTPUT   after DNAT: per container, by the original (dialled) port for the
 *                   published way, by `--ctorigdst` = the container's own address for the
 *                   direct way; ACCEPT / DROP / REJECT;
 *   mangle OUTPUT   before DNAT: the same decisions by what the host dialled (a local
 *                   address and host port, or the container's address); a rejection is
 *                   marked and left to filter, or to the POSTROUTING guard when filter is gone.
 */
import type { Container } from '../inventory/types.js';
import { matchesAny } from '../policy/selector.js';
import type { HostRule, Policy, PortRange } from '../policy/types.js';
import type { Chain, Family, Match, Rule } from '../ruleset/types.js';
import { hostCidr } from '../ruleset/tokens.js';
import type { Attachment, Binding, Publication } from './model.js';
import { mirrorRule } from './mirror.js';
import { FROM_HOST, hostChain, OUTPUT } from './names.js';
import { delivered, dialled } from './published.js';
import { ctNew, dst, jump, localDst, portRange, rule, verdict } from './rules.js';

export interface HostChains {
  readonly filter: readonly Chain[];
  readonly mangle: readonly Chain[];
}

interface Target {
  readonly container: Container;
  publication?: Publication;
  readonly attachments: Attachment[];
}

function note(r: HostRule): string {
  return r.name ? `host.toContainers[${r.index}]:${r.name}` : `host.toContainers[${r.index}]`;
}

function inRanges(ranges: readonly PortRange[] | undefined, protocol: string, port: number): boolean {
  return ranges === undefined || ranges.some((r) => r.protocol === protocol && port >= r.from && port <= r.to);
}

/** Straight to the container, the port dialled is the container port: `ports` and `containerPorts` both apply to it. */
export function directRanges(r: HostRule): readonly (PortRange | undefined)[] {
  if (!r.ports || !r.containerPorts) return r.ports ?? r.containerPorts ?? [undefined];
  return r.ports.flatMap((a) => r.containerPorts!.flatMap((b) => {
    const from = Math.max(a.from, b.from);
    const to = Math.min(a.to, b.to);
    return a.protocol === b.protocol && from <= to ? [{ protocol: a.protocol, from, to }] : [];
  }));
}

function covers(r: HostRule, b: Binding): boolean {
  return inRanges(r.ports, b.protocol, b.hostPort) && inRanges(r.containerPorts, b.protocol, b.containerPort);
}

/** One rule's lines for one container: [filter, mangle] pairs, published way first. */
function lines(r: HostRule, t: Target, family: Family): [Rule, Rule][] {
  const out: [Rule, Rule][] = [];
  const p = t.publication;
  for (const b of p ? p.bindings.filter((b) => covers(r, b)) : []) {
    const target = verdict(r.action, b.protocol, family);
    const before = b.hostIp ? dialled(b, family) : [localDst, ...dialled(b, family)];
    out.push([rule(delivered(p!, b, family), target, note(r)), mirrorRule(rule(before, target, note(r)))]);
  }
  for (const a of t.attachments) {
    const address = hostCidr(family, a.address);
    for (const range of directRanges(r)) {
      const target = verdict(r.action, range?.protocol, family);
      const direct: Match = { kind: 'ctorig', states: [], dst: a.address };
      out.push([rule([dst(address), direct, ...portRange(range)], target, note(r)), mirrorRule(rule([dst(address), ...portRange(range)], target, note(r)))]);
    }
  }
  return out;
}

function targets(publications: readonly Publication[], attachments: readonly Attachment[]): Map<string, Target> {
  const byId = new Map<string, Target>();
  const entry = (c: Container) => byId.get(c.id) ?? byId.set(c.id, { container: c, attachments: [] }).get(c.id)!;
  for (const a of attachments) entry(a.container).attachments.push(a);
  for (const p of publications) entry(p.container).publication = p;
  return byId;
}

export function hostChains(policy: Policy, publications: readonly Publication[], attachments: readonly Attachment[], family: Family): HostChains {
  const rules = policy.host?.toContainers ?? [];
  if (rules.length === 0) return { filter: [], mangle: [] };
  const filter: Chain[] = [];
  const mangle: Chain[] = [];
  const dispatch: Rule[] = [];
  const mangleDispatch: Rule[] = [];
  for (const t of targets(publications, attachments).values()) {
    const pairs = rules.filter((r) => matchesAny(r.containers, t.container)).flatMap((r) => lines(r, t, family));
    if (pairs.length === 0) continue;
    const name = hostChain(t.container.id);
    filter.push({ name, rules: pairs.map(([f]) => f) });
    mangle.push({ name, rules: pairs.map(([, m]) => m) });
    const addresses = new Set([...t.attachments.map((a) => a.address), ...(t.publication ? [t.publication.address] : [])]);
    for (const address of addresses) dispatch.push(rule([dst(hostCidr(family, address))], jump(name)));
    mangleDispatch.push(rule([], jump(name)));
  }
  const entry = (table: Chain[]) => table.push({ name: OUTPUT, rules: [rule([ctNew], jump(FROM_HOST))] });
  entry(filter);
  entry(mangle);
  // filter: keyed by the container's address, no two lines match one packet. mangle sees
  // the packet before DNAT, so it tries every container's chain; their lines never match
  // the same packet either (a host port is published once, addresses differ), so order is free.
  filter.push({ name: FROM_HOST, rules: dispatch, unordered: true });
  mangle.push({ name: FROM_HOST, rules: mangleDispatch, unordered: true });
  return { filter, mangle };
}
