/**
 * The policy, evaluated for one published binding: the ordered list of (source, action)
 * lines that decides who may use it. First match wins, as in the policy file; the
 * default closes the list. Lines after one that matches any source can never decide and
 * are cut, so the rendered chains stay short.
 */
import type { Container } from '../inventory/types.js';
import type { Action, AccessRule, Policy, PortRange, SourceMatch } from '../policy/types.js';
import { matchesAny } from '../policy/selector.js';
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

/** Rules whose selector matches the container: computed once per container, not per binding. */
export function rulesFor(policy: Policy, container: Container): AccessRule[] {
  return policy.rules.filter((rule) => matchesAny(rule.containers, container));
}

export function accessLines(rules: readonly AccessRule[], defaultAction: Action, binding: Binding, family: Family): AccessLine[] {
  const lines: AccessLine[] = [];
  for (const rule of rules) {
    if (!inRanges(rule.ports, binding.protocol, binding.hostPort)) continue;
    if (!inRanges(rule.containerPorts, binding.protocol, binding.containerPort)) continue;
    for (const source of rule.from) {
      if (source.cidr !== undefined && familyOf(source.cidr) !== family) continue;
      lines.push({ source, action: rule.action, rule });
      if (source.cidr === undefined && source.iface === undefined) return lines;
    }
  }
  lines.push({ source: { label: 'any' }, action: defaultAction });
  return lines;
}

/** True when every source ends up allowed: nothing to enforce before DNAT. */
export function allowsAll(lines: readonly AccessLine[]): boolean {
  return lines.every((line) => line.action === 'allow');
}
