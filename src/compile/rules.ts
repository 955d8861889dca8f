/** Small constructors so compile code reads as what each rule does, not as argv. */
import type { SourceMatch } from '../policy/types.js';
import type { L4Protocol, Match, Rule, Target } from '../ruleset/types.js';

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
  if (source.iface !== undefined) out.push(inIf(source.iface));
  return out;
}

export function rule(matches: readonly Match[], target: Target, note?: string): Rule {
  return note ? { matches, target, note } : { matches, target };
}
