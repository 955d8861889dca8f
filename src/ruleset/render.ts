/**
 * Ruleset → iptables-restore text. Pure and deterministic: the same ruleset always renders
 * to the same bytes, in the canonical form iptables-save prints back (explicit /32 and
 * /128 prefixes, `-m tcp` before `--dport`, header matches first), so parse(render(x)) = x.
 */
import type { Chain, Match, Rule, Target } from './types.js';
import { ruleTag } from './hash.js';

const HEADER_ORDER: Readonly<Record<string, number>> = { source: 0, destination: 1, in: 2, out: 3, protocol: 4 };

/** Header fields (-s -d -i -o -p) first in iptables' fixed order, extension matches as given. */
export function canonicalMatches(matches: readonly Match[]): Match[] {
  const header = matches.filter((m) => m.kind in HEADER_ORDER);
  header.sort((a, b) => (HEADER_ORDER[a.kind] ?? 0) - (HEADER_ORDER[b.kind] ?? 0));
  return [...header, ...matches.filter((m) => !(m.kind in HEADER_ORDER))];
}

function neg(negate: boolean | undefined, args: string[]): string[] {
  return negate ? ['!', ...args] : args;
}

export function matchArgs(m: Match): string[] {
  switch (m.kind) {
    case 'source': return neg(m.negate, ['-s', m.cidr]);
    case 'destination': return neg(m.negate, ['-d', m.cidr]);
    case 'in': return neg(m.negate, ['-i', m.iface]);
    case 'out': return neg(m.negate, ['-o', m.iface]);
    case 'protocol': return ['-p', m.protocol];
    case 'dport': return ['-m', m.protocol, '--dport', m.from === m.to ? `${m.from}` : `${m.from}:${m.to}`];
    case 'addrtype': return ['-m', 'addrtype', ...neg(m.negate, [`--${m.dir}-type`, m.type])];
    case 'ctstate': return ['-m', 'conntrack', '--ctstate', m.states.join(',')];
    case 'ctorig': return ['-m', 'conntrack', ...ctorigArgs(m)];
    case 'mark': return ['-m', 'mark', '--mark', markText(m.value, m.mask)];
  }
}

function ctorigArgs(m: Extract<Match, { kind: 'ctorig' }>): string[] {
  const args = m.states.length > 0 ? ['--ctstate', m.states.join(',')] : [];
  if (m.dst !== undefined) args.push('--ctorigdst', m.dst);
  if (m.dstPort !== undefined) args.push('--ctorigdstport', `${m.dstPort}`);
  return args;
}

export function markText(value: number, mask: number): string {
  return `0x${value.toString(16)}/0x${mask.toString(16)}`;
}

export function targetArgs(t: Target): string[] {
  switch (t.kind) {
    case 'jump': return ['-j', t.chain];
    case 'goto': return ['-g', t.chain];
    case 'REJECT': return ['-j', 'REJECT', '--reject-with', t.with];
    case 'DNAT': return ['-j', 'DNAT', '--to-destination', t.to];
    case 'SNAT': return ['-j', 'SNAT', '--to-source', t.to];
    case 'MARK': return ['-j', 'MARK', '--set-xmark', markText(t.value, t.mask)];
    default: return ['-j', t.kind];
  }
}

/** The rule's words without its comment: what its hash tag covers. */
export function ruleBody(rule: Rule): string {
  return canonicalMatches(rule.matches).flatMap(matchArgs).join(' ');
}

export function commentText(tag: string, note?: string): string {
  return note ? `DW:${tag} ${note}` : `DW:${tag}`;
}

/** One restore line for a rule, with the hash-tag comment placed where iptables-save prints it. */
export function ruleLine(verb: string, chain: string, rule: Rule, tag: string): string {
  const words = [verb, chain, ...canonicalMatches(rule.matches).flatMap(matchArgs)];
  words.push('-m', 'comment', '--comment', `"${commentText(tag, rule.note)}"`);
  return [...words, ...targetArgs(rule.target)].join(' ');
}

/** Rule lines of a chain with their chained tags (each tag covers the chain name and every rule before it). */
export function chainLines(chain: Chain): string[] {
  const lines: string[] = [];
  let previous = '';
  for (const rule of chain.rules) {
    previous = ruleTag(chain.name, previous, rule);
    lines.push(ruleLine('-A', chain.name, rule, previous));
  }
  return lines;
}

/** The tags a chain's rules carry, in order: what read-back compares. */
export function chainTags(chain: Chain): string[] {
  const tags: string[] = [];
  let previous = '';
  for (const rule of chain.rules) {
    previous = ruleTag(chain.name, previous, rule);
    tags.push(previous);
  }
  return tags;
}
