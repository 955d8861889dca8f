/** Small constructors so compile code reads as what each rule does, not as argv. */
import type { SourceMatch } from '../policy/types.js';
import type { Action } from '../policy/types.js';
import type { Family, L4Protocol, Match, Rule, Target } from '../ruleset/types.js';

export const accept: Target = { kind: 'ACCEPT' };
export const drop: Target = { kind: 'DROP' };
export const ret: Target = { kind: 'RETURN' };
export const masquerade: Target = { kind: 'MASQUERADE' };
export const jump = (chain: string): Target => ({ kind: 'jump', chain });
export const goTo = (chain: string): Target => ({ kind: 'goto', chain });

export const inIf = (iface: string, negate = false): Match => (negate ? { kind: 'in', iface, negate } : { kind: 'in', iface });
export const outIf = (iface: string, negate = false): Match => (negate ? { kind: 'out', iface, negate } : { kind: 'out', iface });
export const src = (cidr: string): Match => ({ kind: 'source', cidr });
export const dst = (cidr: string, negate = false): Match => (negate ? { kind: 'destination', cidr, negate } : { kind: 'destination', cidr });
export const localDst: Match = { kind: 'addrtype', dir: 'dst', type: 'LOCAL' };
export const localSrc: Match = { kind: 'addrtype', dir: 'src', type: 'LOCAL' };
export const notLocalDst: Match = { kind: 'addrtype', dir: 'dst', type: 'LOCAL', negate: true };
export const ctNew: Match = { kind: 'ctstate', states: ['NEW'] };
export const ctDnat: Match = { kind: 'ctstate', states: ['DNAT'] };
export const ctReplies: Match = { kind: 'ctstate', states: ['RELATED', 'ESTABLISHED'] };

export function port(protocol: L4Protocol, number: number): Match[] {
  return [{ kind: 'protocol', protocol }, { kind: 'dport', protocol, from: number, to: number }];
}

/** The matches for a policy source: interface and/or address block (none = any). */
export function sourceMatches(source: SourceMatch): Match[] {
  const out: Match[] = [];
  if (source.cidr !== undefined) out.push(src(source.cidr));
  if (source.set !== undefined) out.push({ kind: 'set', name: source.set, dir: 'src' });
  if (source.iface !== undefined) out.push(inIf(source.iface));
  return out;
}

export function rule(matches: readonly Match[], target: Target, note?: string): Rule {
  return note ? { matches, target, note } : { matches, target };
}

/** REJECT as the policy means it: a TCP reset for TCP, port-unreachable otherwise (also when the protocol is open). */
export function rejectFor(protocol: L4Protocol | undefined, family: Family): Target {
  if (protocol === 'tcp') return { kind: 'REJECT', with: 'tcp-reset' };
  return { kind: 'REJECT', with: family === 'ipv4' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable' };
}

/** The filter verdict of a policy action. */
export function verdict(action: Action, protocol: L4Protocol | undefined, family: Family): Target {
  return action === 'allow' ? accept : action === 'deny' ? drop : rejectFor(protocol, family);
}

/** Protocol and destination port range matches (none when the rule names no ports). */
export function portRange(range: { protocol: L4Protocol; from: number; to: number } | undefined): Match[] {
  if (!range) return [];
  return [{ kind: 'protocol', protocol: range.protocol }, { kind: 'dport', protocol: range.protocol, from: range.from, to: range.to }];
}
