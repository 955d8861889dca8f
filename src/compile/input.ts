/**
 * Traffic to the host itself. In coexist mode dockward judges only what containers send
 * to the host (egress.ts), and only when the policy restricts it. In exclusive mode
 * (`host.manage: true`) it owns INPUT: loopback, replies and essential ICMP always pass;
 * containers are judged by their outbound policy; everything else by `host.input`, first
 * match wins, then `host.default`.
 *
 * Each table alone: the same chain goes to mangle INPUT, rejections as drops (no later
 * table could answer them), so the host stays closed while filter is wiped, and the other
 * way round. The restore is whole-table in this mode, so no other tool's rule survives
 * an apply either.
 */
import type { Policy } from '../policy/types.js';
import type { Chain, Family, IcmpProtocol, Match, Rule } from '../ruleset/types.js';
import { resolve, type NetworkBridges } from './access.js';
import { coexistInput, containerInputLines, defaultLines, type EgressChains } from './egress.js';
import type { Bridge } from './model.js';
import { INPUT } from './names.js';
import { accept, ctReplies, inIf, portRange, rule, sourceMatches, verdict } from './rules.js';

/** Unreachable, time exceeded, parameter problem, echo request (RFC 1122 / RFC 4890's must-not-drop list, v6 neighbour discovery). */
const ESSENTIAL_ICMP: Readonly<Record<Family, readonly number[]>> = {
  ipv4: [3, 8, 11, 12],
  ipv6: [1, 2, 3, 4, 128, 133, 134, 135, 136],
};

function icmpLines(family: Family): Rule[] {
  const protocol: IcmpProtocol = family === 'ipv4' ? 'icmp' : 'ipv6-icmp';
  return ESSENTIAL_ICMP[family].map((type) => rule([{ kind: 'protocol', protocol }, { kind: 'icmpType', protocol, type }], accept, 'icmp'));
}

function note(r: { index: number; name?: string }): string {
  return r.name ? `host.input[${r.index}]:${r.name}` : `host.input[${r.index}]`;
}

function inputRuleLines(policy: Policy, family: Family, networks: NetworkBridges): Rule[] {
  const lines: Rule[] = [];
  for (const r of policy.host?.manage?.input ?? []) {
    for (const declared of r.from) {
      const source = resolve(declared, family, networks);
      if (!source) continue;
      for (const range of r.ports ?? [undefined]) {
        const matches: Match[] = [...sourceMatches(source), ...portRange(range)];
        lines.push(rule(matches, verdict(r.action, range?.protocol, family), note(r)));
      }
    }
  }
  return lines;
}

/** DOCKWARD-INPUT for filter (mangle mirrors it), or none when dockward has nothing to say about INPUT. */
export function inputChains(policy: Policy, egress: EgressChains, bridges: readonly Bridge[], family: Family, networks: NetworkBridges): Chain[] {
  const manage = policy.host?.manage;
  if (!manage) return coexistInput(egress, policy, bridges, family);
  const always = [rule([inIf('lo')], accept, 'loopback'), rule([ctReplies], accept, 'replies'), ...icmpLines(family)];
  const rules = [
    ...always,
    ...containerInputLines(egress, policy, bridges, family, true),
    ...inputRuleLines(policy, family, networks),
    ...defaultLines([], manage.default, family, 'input'),
  ];
  return [{ name: INPUT, rules }];
}
