/**
 * What `dockward check` warns about: a valid policy that almost certainly does not say
 * what was meant. Rules an earlier rule shadows (shadow.ts), and two rules of one name in
 * a list: a name stands for one rule in comments, logs and `explain`, and two read as one.
 * Warnings, not errors, so a policy that loaded before still loads.
 */
import { shadowWarnings } from './shadow.js';
import type { Policy, PolicyIssue } from './types.js';

type Named = { readonly index: number; readonly name?: string | undefined };

function duplicated(section: string, rules: readonly Named[]): PolicyIssue[] {
  const first = new Map<string, number>();
  const found: PolicyIssue[] = [];
  for (const r of rules) {
    if (r.name === undefined || r.index < 0) continue;
    const earlier = first.get(r.name);
    if (earlier === undefined) first.set(r.name, r.index);
    else found.push({ path: `${section}[${r.index}].name`, message: `"${r.name}" is also the name of ${section}[${earlier}]` });
  }
  return found;
}

export function policyWarnings(policy: Policy): PolicyIssue[] {
  return [
    ...shadowWarnings(policy),
    ...duplicated('rules', policy.rules.filter((r) => r.place === undefined)),
    ...duplicated('connections', policy.connections ?? []),
    ...duplicated('egress', policy.egress ?? []),
    ...duplicated('host.toContainers', policy.host?.toContainers ?? []),
    ...duplicated('host.input', policy.host?.manage?.input ?? []),
  ];
}
