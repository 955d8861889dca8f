/**
 * Ruleset → iptables-restore text. Pure and deterministic: the same ruleset always renders
 * to the same bytes, in the canonical form iptables-save prints back (explicit /32 and
 * /128 prefixes, `-m tcp` before `--dport`, header matches first), so parse(render(x)) = x.
 */
import type { Chain, Match, Rule, Target } from './types.js';
import { wordsTag } from './hash.js';

/** Header fields (-s -d -i -o -p) in iptables' fixed order; extension matches after them. */
function headerRank(kind: Match['kind']): number {
  switch (kind) {
    case 'source': return 0;
    case 'destination': return 1;
    case 'in': return 2;
    case 'out': return 3;
    case 'protocol': return 4;
    default: return 99;
  }
}

/** Header fields (-s -d -i -o -p) first in iptables' fixed order, extension matches as given. */
export function canonicalMatches(matches: readonly Match[]): readonly Match[] {
  if (isCanonical(matches)) return matches;
  const header = matches.filter((m) => headerRank(m.kind) < 99);
  header.sort((a, b) => headerRank(a.kind) - headerRank(b.kind));
  return [...header, ...matches.filter((m) => headerRank(m.kind) === 99)];
}

/** The compiler builds rules in canonical order already; checking is cheaper than sorting. */
function isCanonical(matches: readonly Match[]): boolean {
  let last = -1;
  for (let i = 0; i < matches.length; i++) {
    const rank = headerRank(matches[i]!.kind);
    if (rank < last) return false;
    last = rank;
  }
  return true;
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
    case 'limit': return ['-m', 'limit', '--limit', `${m.perMinute}/min`];
    case 'set': return ['-m', 'set', '--match-set', m.name, m.dir];
    case 'icmpType': return m.protocol === 'icmp' ? ['-m', 'icmp', '--icmp-type', `${m.type}`] : ['-m', 'icmp6', '--icmpv6-type', `${m.type}`];
  }
}

/** matchArgs as one string, without the intermediate arrays: the hot path of rendering. */
export function matchText(m: Match): string {
  const not = 'negate' in m && m.negate ? '! ' : '';
  switch (m.kind) {
    case 'source': return `${not}-s ${m.cidr}`;
    case 'destination': return `${not}-d ${m.cidr}`;
    case 'in': return `${not}-i ${m.iface}`;
    case 'out': return `${not}-o ${m.iface}`;
    case 'protocol': return `-p ${m.protocol}`;
    case 'dport': return `-m ${m.protocol} --dport ${m.from === m.to ? m.from : `${m.from}:${m.to}`}`;
    case 'addrtype': return `-m addrtype ${not}--${m.dir}-type ${m.type}`;
    case 'ctstate': return `-m conntrack --ctstate ${m.states.join(',')}`;
    case 'ctorig': return ctorigText(m);
    case 'mark': return `-m mark --mark ${markText(m.value, m.mask)}`;
    case 'set': return `-m set --match-set ${m.name} ${m.dir}`;
    default: return matchArgs(m).join(' ');
  }
}

/** Every published port's filter rule has one: built without arrays. */
function ctorigText(m: Extract<Match, { kind: 'ctorig' }>): string {
  let text = m.states.length > 0 ? `-m conntrack --ctstate ${m.states.join(',')}` : '-m conntrack';
  if (m.dst !== undefined) text += ` --ctorigdst ${m.dst}`;
  if (m.dstPort !== undefined) text += ` --ctorigdstport ${m.dstPort}`;
  return text;
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
    case 'LOG': return ['-j', 'LOG', '--log-prefix', `"${t.prefix}"`];
    default: return ['-j', t.kind];
  }
}

/** The rule's matches as words. */
export function ruleBody(rule: Rule): string {
  let body = '';
  for (const m of canonicalMatches(rule.matches)) body += (body ? ' ' : '') + matchText(m);
  return body;
}

export function targetText(t: Target): string {
  switch (t.kind) {
    case 'jump': return `-j ${t.chain}`;
    case 'goto': return `-g ${t.chain}`;
    case 'ACCEPT': return '-j ACCEPT';
    case 'DROP': return '-j DROP';
    case 'RETURN': return '-j RETURN';
    case 'MASQUERADE': return '-j MASQUERADE';
    case 'DNAT': return `-j DNAT --to-destination ${t.to}`;
    case 'REJECT': return `-j REJECT --reject-with ${t.with}`;
    default: return targetArgs(t).join(' ');
  }
}

/** One restore line for a rule, with the hash-tag comment placed where iptables-save prints it. */
export function ruleLine(verb: string, chain: string, rule: Rule, tag: string, body = ruleBody(rule), target = targetText(rule.target)): string {
  const comment = rule.note ? `"DW:${tag} ${rule.note}" ` : `"DW:${tag}" `;
  return body ? `${verb} ${chain} ${body} -m comment --comment ${comment}${target}` : `${verb} ${chain} -m comment --comment ${comment}${target}`;
}

export interface RenderedChain {
  /** Each rule's tag, in order: what read-back compares. */
  readonly tags: readonly string[];
  /** `-A CHAIN …` restore lines. */
  readonly lines: readonly string[];
}

/**
 * Tags and lines of a chain, rendered in one pass. In an ordered chain each tag
 * covers the chain name and every rule before it; in an unordered (set) chain each rule's
 * tag stands alone, so one line can be added or deleted without touching the others.
 */
export function renderChain(chain: Chain): RenderedChain {
  const memo = memos.get(chain);
  if (memo) return memo as RenderedChain;
  const tags: string[] = [];
  const lines: string[] = [];
  let previous = '';
  for (const rule of chain.rules) {
    const one = chain.unordered ? renderSetRule(chain.name, rule) : renderRule(chain.name, previous, rule);
    tags.push(one.tag);
    lines.push(one.line);
    previous = one.tag;
  }
  const rendered = { tags, lines };
  if (memo === null) memos.set(chain, rendered);
  return rendered;
}

/**
 * Rendering is remembered for the objects a CompileCache hands out again and again: an
 * unchanged container compiles to the same chain and rule objects (compile/cache.ts), so
 * after an event only what changed is rendered and hashed. A set chain is rebuilt each
 * compile, but its rules are the containers' remembered ones, and a set rule's tag does not
 * depend on its neighbours. Only objects marked with `memoise` are remembered: a one-off
 * compile of 10,000 containers should not pay for a weak map of every rule.
 */
type SetRuleMemo = { readonly chain: string; readonly tag: string; readonly line: string };
/** A set rule met in several chains (a source's line in each destination's): its rendering per chain. */
type SetRuleMemos = Map<string, SetRuleMemo>;
const memos = new WeakMap<Chain | Rule, RenderedChain | SetRuleMemo | SetRuleMemos | null>();

/** Mark chains and rules whose rendering is worth remembering (filled on first use). */
export function memoise(items: Iterable<Chain | Rule>): void {
  for (const item of items) if (!memos.has(item)) memos.set(item, null);
}

/** A rule's words are rendered once, for its tag and for its line. */
function renderRule(chain: string, previous: string, rule: Rule): { tag: string; line: string } {
  const body = ruleBody(rule);
  const target = targetText(rule.target);
  const tag = wordsTag(chain, previous, body, target, rule.note);
  return { tag, line: ruleLine('-A', chain, rule, tag, body, target) };
}

function renderSetRule(chain: string, rule: Rule): { tag: string; line: string } {
  const memo = memos.get(rule) as SetRuleMemo | SetRuleMemos | null | undefined;
  if (memo instanceof Map) {
    const known = memo.get(chain);
    if (known) return known;
  } else if (memo?.chain === chain) return memo;
  const { tag, line } = renderRule(chain, '', rule);
  const fresh = { chain, tag, line };
  // Most rules live in one chain; a map is made only for one met in a second.
  if (memo === null) memos.set(rule, fresh);
  else if (memo instanceof Map) memo.set(chain, fresh);
  else if (memo !== undefined) memos.set(rule, new Map([[memo.chain, memo], [chain, fresh]]));
  return fresh;
}

export function chainLines(chain: Chain): readonly string[] {
  return renderChain(chain).lines;
}

export function chainTags(chain: Chain): readonly string[] {
  return renderChain(chain).tags;
}
