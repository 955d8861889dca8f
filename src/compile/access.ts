/**
 * The policy, evaluated for one published binding: the ordered list of (source, action)
 * lines that decides who may use it. First match wins, as in the policy file; the
 * default closes the list. Lines after one that matches any source can never decide and
 * are cut, so the rendered chains stay short.
 */
import type { Container } from '../inventory/types.js';
import type { Action, AccessRule, Policy, PortRange, SourceMatch } from '../policy/types.js';
import { matchesAny } from '../policy/selector.js';
import { labelRules } from './labels.js';
import type { Family } from '../ruleset/types.js';
import type { Binding } from './model.js';

export interface AccessLine {
  readonly source: SourceMatch;
  readonly action: Action;
  /** The deciding policy rule; undefined for the default. */
  readonly rule?: AccessRule;
}

function inRanges(ranges: readonly PortRange[] | undefined, protocol: string, port: number): boolean {
  return ranges === undefined || ranges.some((r) => r.protocol === protocol && port >= r.from && port <= r.to);
}

function familyOf(cidr: string): Family {
  return cidr.includes(':') ? 'ipv6' : 'ipv4';
}

/** A ban: a refusal of sources in an ipset (fail2ban's, CrowdSec's, or a big zone of dockward's own). */
function isBan(rule: AccessRule): boolean {
  return rule.action !== 'allow' && rule.from.some((s) => s.set !== undefined);
}

/**
 * Rules whose selector matches the container, with its own label's rules before or after
 * them (labels.ts): computed once per container, not per binding. Labels placed before
 * the file's rules still come after its bans: a source banned on the host is refused
 * before any allow rule, a container's label included.
 */
export function rulesFor(policy: Policy, container: Container): AccessRule[] {
  const file = policy.rules.filter((rule) => matchesAny(rule.containers, container));
  const own = labelRules(policy, container).rules;
  if (own.length === 0) return file;
  if (policy.labels?.position !== 'before') return [...file, ...own];
  return [...file.filter(isBan), ...own, ...file.filter((r) => !isBan(r))];
}

/** Docker network name → its bridge interface, for `network:NAME` sources. */
export type NetworkBridges = ReadonlyMap<string, string>;

/** A source as the rules can match it, or undefined when it can never match in this family. */
export function resolve(source: SourceMatch, family: Family, networks: NetworkBridges): SourceMatch | undefined {
  if (source.cidr !== undefined && familyOf(source.cidr) !== family) return undefined;
  if (source.set !== undefined && source.setFamily !== family) return undefined;
  if (source.network === undefined) return source;
  const iface = networks.get(source.network);
  return iface === undefined ? undefined : { iface, label: source.label };
}

export function accessLines(rules: readonly AccessRule[], defaultAction: Action, binding: Binding, family: Family, networks: NetworkBridges = new Map()): AccessLine[] {
  const lines: AccessLine[] = [];
  for (const rule of rules) {
    if (!inRanges(rule.ports, binding.protocol, binding.hostPort)) continue;
    if (!inRanges(rule.containerPorts, binding.protocol, binding.containerPort)) continue;
    for (const declared of rule.from) {
      const source = resolve(declared, family, networks);
      if (!source) continue;
      lines.push({ source, action: rule.action, rule });
      if (source.cidr === undefined && source.iface === undefined && source.set === undefined) return lines;
    }
  }
  lines.push({ source: { label: 'any' }, action: defaultAction });
  return lines;
}

/** True when every source ends up allowed: nothing to enforce before DNAT. */
export function allowsAll(lines: readonly AccessLine[]): boolean {
  return lines.every((line) => line.action === 'allow');
}
