/**
 * Zones that name an ipset kept by another tool. Such a set may not exist yet (fail2ban
 * not started): the rules that use it are left out, with a note, instead of failing the
 * whole load — iptables-restore refuses a rule naming a missing set — and come in at the
 * next reconcile that finds the set. The set's family (what `ipset list` says) decides in
 * which ruleset it is used. dockward's own sets exist by the time the rules load.
 *
 * The result is memoised per (policy, sets): the same inputs give the very same policy
 * object, so per-container results cached on the policy (cache.ts) stay valid.
 */
import type { HostPolicy, Policy, SourceMatch } from '../policy/types.js';
import type { Family } from '../ruleset/types.js';

/** Sets that exist on the host, by name, with their family. */
export type ExistingSets = ReadonlyMap<string, Family>;

const memo = new WeakMap<Policy, { signature: string; policy: Policy; notes: string[] }>();

/** The names of the ipsets other tools keep that the policy matches on. */
export function foreignSetNames(policy: Policy): string[] {
  const all = [...policy.rules.flatMap((r) => r.from), ...(policy.egress ?? []).flatMap((r) => r.to),
    ...(policy.host?.manage?.input ?? []).flatMap((r) => r.from),
    ...Object.values(policy.labels?.zones ?? {}).flat()];
  return [...new Set(all.flatMap((m) => (m.set !== undefined && m.setFamily === undefined ? [m.set] : [])))];
}

const usesForeignSets = (policy: Policy): boolean => foreignSetNames(policy).length > 0;

export function withExistingSets(policy: Policy, sets: ExistingSets | undefined): { policy: Policy; notes: string[] } {
  if (!usesForeignSets(policy)) return { policy, notes: [] };
  const signature = JSON.stringify([...(sets ?? new Map())].sort());
  const known = memo.get(policy);
  if (known?.signature === signature) return known;
  const missing = new Set<string>();
  const resolve = (matches: readonly SourceMatch[]): SourceMatch[] => matches.flatMap((m) => {
    if (m.set === undefined || m.setFamily !== undefined) return [m];
    const family = sets?.get(m.set);
    if (family === undefined) missing.add(`${m.label}: ipset ${m.set} does not exist (yet); the rules that use it are left out until it does`);
    return family === undefined ? [] : [{ ...m, setFamily: family }];
  });
  const labels = policy.labels && { ...policy.labels, zones: Object.fromEntries(Object.entries(policy.labels.zones).map(([k, v]) => [k, resolve(v)])) };
  const resolved: Policy = {
    ...policy,
    rules: policy.rules.map((r) => ({ ...r, from: resolve(r.from) })),
    ...(policy.egress ? { egress: policy.egress.map((r) => ({ ...r, to: resolve(r.to) })) } : {}),
    ...(labels ? { labels } : {}),
    ...(policy.host ? { host: withInputSets(policy.host, resolve) } : {}),
  };
  const result = { signature, policy: resolved, notes: [...missing] };
  memo.set(policy, result);
  return result;
}

function withInputSets(host: HostPolicy, resolve: (m: readonly SourceMatch[]) => SourceMatch[]): HostPolicy {
  if (!host.manage) return host;
  return { ...host, manage: { ...host.manage, input: host.manage.input.map((r) => ({ ...r, from: resolve(r.from) })) } };
}
