/**
 * The policy's access list for one binding — the compiler's own evaluation of it
 * (compile/access.ts), so it is the list the rules were built from — in plain words.
 */
import type { AccessLine } from '../compile/access.js';
import type { Action } from '../policy/types.js';
import { deciderText, lineDecider, sameDecider } from './decider.js';
import type { LineView } from './model.js';

function sourceText(line: AccessLine): string {
  const { label, iface, cidr, set } = line.source;
  if (!/^(zone|network):/.test(label)) return label;
  const where = set !== undefined ? `ipset ${set}` : cidr;
  const detail = where !== undefined && iface !== undefined ? `${where} on ${iface}` : (where ?? iface);
  return detail === undefined ? label : `${label} (${detail})`;
}

export function lineViews(lines: readonly AccessLine[]): LineView[] {
  return lines.map((line) => ({
    source: sourceText(line),
    ...(line.source.iface !== undefined ? { iface: line.source.iface } : {}),
    ...(line.source.cidr !== undefined ? { cidr: line.source.cidr } : {}),
    ...(line.source.set !== undefined ? { set: line.source.set } : {}),
    action: line.action,
    decidedBy: lineDecider(line),
  }));
}

const VERB: Readonly<Record<Action, string>> = { allow: 'allowed', deny: 'denied', reject: 'rejected' };

export function isAnyone(line: LineView): boolean {
  return line.iface === undefined && line.cidr === undefined && line.set === undefined;
}

/** "a", "a and b", "a, b and c"; several lines of one zone become "zone:lan (eth0, eth1)". */
function sources(lines: readonly LineView[]): string {
  const byZone = new Map<string, string[]>();
  for (const line of lines) {
    const zone = /^((?:zone|network):\S+) \((.*)\)$/.exec(line.source);
    const key = zone?.[1] ?? line.source;
    byZone.set(key, [...(byZone.get(key) ?? []), ...(zone?.[2] ? [zone[2]] : [])]);
  }
  const words = [...byZone].map(([key, details]) => (details.length > 0 ? `${key} (${details.join(', ')})` : key));
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** Consecutive lines with the same action and the same deciding rule read as one clause. */
function groups(lines: readonly LineView[]): LineView[][] {
  const out: LineView[][] = [];
  for (const line of lines) {
    const last = out[out.length - 1];
    const head = last?.[0];
    if (last && head && head.action === line.action && sameDecider(head.decidedBy, line.decidedBy) && !isAnyone(line)) last.push(line);
    else out.push([line]);
  }
  return out;
}

function clause(group: readonly LineView[], first: boolean): string {
  const head = group[0]!;
  const by = head.decidedBy.kind === 'default' ? ' (defaults.published)' : ` by ${deciderText(head.decidedBy)}`;
  if (isAnyone(head)) return `${first ? 'everyone' : 'everyone else'}: ${head.action}${by}`;
  return `${VERB[head.action]} from ${sources(group)}${by}`;
}

/** The whole list as one sentence: "allowed from zone:external (eth0) and 192.0.2.10 by rules[0] public-https; everyone else: deny (defaults.published)". */
export function summary(lines: readonly LineView[]): string {
  return groups(lines).map((g, i) => clause(g, i === 0)).join('; ');
}
