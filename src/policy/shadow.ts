/**
 * Rules that can never decide: an earlier rule of the same list matches all of their
 * traffic (the same or wider containers, ports and sources), so first-match-wins never
 * reaches them. Not an error — the policy means what it says — but almost always a
 * mistake in ordering, so `dockward check` reports each one as a warning. Conservative:
 * only what is certainly covered is reported (equal selectors, contained ranges and CIDRs).
 */
import { BlockList, isIPv6 } from 'node:net';
import type { Policy, PolicyIssue, PortRange, Selector, SourceMatch } from './types.js';

interface Shape {
  readonly index: number;
  readonly selectors: readonly (readonly Selector[] | undefined)[];
  readonly ranges: readonly (readonly PortRange[] | undefined)[];
  readonly sources: readonly (readonly SourceMatch[])[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** A name glob of stars alone, with no other key, matches every container. */
const selectsAll = (s: Selector) => s.name !== undefined && /^\*+$/.test(s.name) && Object.keys(s).length === 1;

/** Undefined selects every container; otherwise every selector of `inner` must be one of `outer`. */
function selectorsCover(outer: readonly Selector[] | undefined, inner: readonly Selector[] | undefined): boolean {
  if (outer === undefined || outer.some(selectsAll)) return true;
  return inner !== undefined && inner.every((s) => outer.some((o) => same(o, s)));
}

function rangesCover(outer: readonly PortRange[] | undefined, inner: readonly PortRange[] | undefined): boolean {
  if (outer === undefined) return true;
  return inner !== undefined && inner.every((r) => outer.some((o) => o.protocol === r.protocol && o.from <= r.from && r.to <= o.to));
}

function cidrCovers(outer: string, inner: string): boolean {
  const [net = '', prefix = '0'] = outer.split('/');
  const [address = '', innerPrefix = '0'] = inner.split('/');
  if (isIPv6(net) !== isIPv6(address) || Number(innerPrefix) < Number(prefix)) return false;
  const list = new BlockList();
  list.addSubnet(net, Number(prefix), isIPv6(net) ? 'ipv6' : 'ipv4');
  return list.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
}

const isAny = (s: SourceMatch) => s.cidr === undefined && s.iface === undefined && s.network === undefined && s.set === undefined;

function sourceCovers(o: SourceMatch, s: SourceMatch): boolean {
  if (isAny(o)) return true;
  if (o.iface !== s.iface || o.network !== s.network || o.set !== s.set) return false;
  return o.cidr === undefined || (s.cidr !== undefined && cidrCovers(o.cidr, s.cidr));
}

function sourcesCover(outer: readonly SourceMatch[], inner: readonly SourceMatch[]): boolean {
  return inner.every((s) => outer.some((o) => sourceCovers(o, s)));
}

function covers(a: Shape, b: Shape): boolean {
  return a.selectors.every((s, i) => selectorsCover(s, b.selectors[i]))
    && a.ranges.every((r, i) => rangesCover(r, b.ranges[i]))
    && a.sources.every((s, i) => sourcesCover(s, b.sources[i] ?? []));
}

function shadowed(section: string, shapes: readonly Shape[]): PolicyIssue[] {
  const found: PolicyIssue[] = [];
  shapes.forEach((b, j) => {
    const first = shapes.slice(0, j).find((a) => covers(a, b));
    if (first) found.push({ path: `${section}[${b.index}]`, message: `never decides: ${section}[${first.index}] matches all of its traffic first` });
  });
  return found;
}

/** Every rule some earlier rule of its list shadows, as warnings with their places. */
export function shadowWarnings(policy: Policy): PolicyIssue[] {
  return [
    ...shadowed('rules', policy.rules.map((r) => ({ index: r.index, selectors: [r.containers], ranges: [r.ports, r.containerPorts], sources: [r.from] }))),
    ...shadowed('connections', (policy.connections ?? []).map((r) => ({ index: r.index, selectors: [r.from, r.to], ranges: [r.ports], sources: [] }))),
    ...shadowed('egress', (policy.egress ?? []).map((r) => ({ index: r.index, selectors: [r.containers], ranges: [r.ports], sources: [r.to] }))),
    ...shadowed('host.toContainers', (policy.host?.toContainers ?? []).map((r) => ({ index: r.index, selectors: [r.containers], ranges: [r.ports, r.containerPorts], sources: [] }))),
    ...shadowed('host.input', (policy.host?.manage?.input ?? []).map((r) => ({ index: r.index, selectors: [], ranges: [r.ports], sources: [r.from] }))),
  ];
}
