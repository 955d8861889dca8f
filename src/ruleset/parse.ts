/**
 * iptables-save text → live state, and rule words → Rule (the inverse of render.ts).
 * Read-back relies only on chain names and the DW hash tags in comments; parseRule is
 * used for plan's diff and to prove that render and parse agree.
 */
import { CHAIN_PREFIX, type CtState, type L4Protocol, type Match, type Rule, type TableName, type Target } from './types.js';

export interface LiveRule {
  /** The rule's words after `-A CHAIN`, exactly as saved. */
  readonly text: string;
  /** The DW hash tag, when the rule carries one. */
  readonly tag?: string;
}

export interface LiveChain {
  readonly name: string;
  /** Policy for built-in chains (ACCEPT/DROP), undefined for user chains. */
  readonly policy?: string;
  readonly rules: LiveRule[];
}

export type LiveTable = Map<string, LiveChain>;

/**
 * The tags of a live chain, remembered: a set chain of the assumed state (a thousand
 * dispatch lines) is met again at every event. Rules added in place go through appendLive.
 */
const tagSets = new WeakMap<LiveChain, Set<string>>();

export function liveTags(chain: LiveChain): ReadonlySet<string> {
  let tags = tagSets.get(chain);
  if (!tags) {
    tags = new Set();
    for (const r of chain.rules) if (r.tag !== undefined) tags.add(r.tag);
    tagSets.set(chain, tags);
  }
  return tags;
}

export type LiveState = Map<TableName, LiveTable>;

/**
 * How many of a live table's chains are dockward's and hold rules, remembered: the hot path
 * asks at every event, and the table has thousands. A table changed in place goes through
 * putLiveChain, dropLiveChain and appendLive, which keep the count.
 */
const filledCounts = new WeakMap<LiveTable, number>();

const filledOwned = (chain: LiveChain | undefined): number => (chain && chain.rules.length > 0 && chain.name.startsWith(CHAIN_PREFIX) ? 1 : 0);

export function filledOwnedCount(table: LiveTable): number {
  let count = filledCounts.get(table);
  if (count === undefined) {
    count = 0;
    for (const chain of table.values()) count += filledOwned(chain);
    filledCounts.set(table, count);
  }
  return count;
}

function recount(table: LiveTable, before: LiveChain | undefined, after: LiveChain | undefined): void {
  const count = filledCounts.get(table);
  if (count !== undefined) filledCounts.set(table, count - filledOwned(before) + filledOwned(after));
}

export function putLiveChain(table: LiveTable, chain: LiveChain): void {
  recount(table, table.get(chain.name), chain);
  table.set(chain.name, chain);
}

export function dropLiveChain(table: LiveTable, name: string): void {
  recount(table, table.get(name), undefined);
  table.delete(name);
}

/** Adds rules at the end of a live chain of `table`, in place, its remembered tags with them. */
export function appendLive(table: LiveTable, chain: LiveChain, rules: readonly LiveRule[]): void {
  const wasEmpty = chain.rules.length === 0;
  const tags = tagSets.get(chain);
  for (const r of rules) {
    chain.rules.push(r);
    if (r.tag !== undefined) tags?.add(r.tag);
  }
  if (wasEmpty && rules.length > 0) recount(table, { name: chain.name, rules: [] }, chain);
}

const TAG_RE = /--comment "?DW:([0-9a-f]{16})\b/;

export function parseSave(text: string): LiveState {
  const state: LiveState = new Map();
  let table: LiveTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = new Map();
      state.set(line.slice(1).trim() as TableName, table);
    } else if (line.startsWith(':') && table) {
      const [name = '', policy = '-'] = line.slice(1).split(' ');
      table.set(name, { name, policy: policy === '-' ? undefined : policy, rules: [] });
    } else if (line.startsWith('-A ') && table) {
      addRule(table, line);
    }
  }
  return state;
}

function addRule(table: LiveTable, line: string): void {
  const rest = line.slice(3);
  const space = rest.indexOf(' ');
  const chain = space < 0 ? rest : rest.slice(0, space);
  const text = space < 0 ? '' : rest.slice(space + 1);
  const tag = TAG_RE.exec(text)?.[1];
  const entry = table.get(chain) ?? { name: chain, rules: [] };
  table.set(chain, entry);
  entry.rules.push(tag ? { text, tag } : { text });
}

/** Split saved rule words, honouring double quotes (comments) the way iptables-save writes them. */
export function tokenize(text: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? ''));
  }
  return words;
}

/** Parse the words of one owned rule back into data; throws on anything render never writes. */
export function parseRule(text: string): Rule {
  const words = tokenize(text);
  const matches: Match[] = [];
  let target: Target | undefined;
  let note: string | undefined;
  let negate = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    const next = (): string => {
      const value = words[++i];
      if (value === undefined) throw new Error(`missing value after ${word} in: ${text}`);
      return value;
    };
    if (word === '!') { negate = true; continue; }
    const header = headerMatch(word ?? '', next, negate);
    if (header) { matches.push(header); negate = false; continue; }
    if (word === '-m') {
      const parsed = extensionMatch(next(), words, i, text);
      i = parsed.end;
      if (parsed.match) matches.push(parsed.match);
      if (parsed.note !== undefined) note = parsed.note;
      continue;
    }
    if (word === '-j' || word === '-g') {
      target = parseTarget(word, words.slice(i + 1), text);
      break;
    }
    throw new Error(`unexpected word "${word}" in: ${text}`);
  }
  if (!target) throw new Error(`rule without target: ${text}`);
  return note ? { matches, target, note } : { matches, target };
}

function headerMatch(word: string, next: () => string, negate: boolean): Match | undefined {
  const n = negate ? { negate: true } : {};
  switch (word) {
    case '-s': return { kind: 'source', cidr: next(), ...n };
    case '-d': return { kind: 'destination', cidr: next(), ...n };
    case '-i': return { kind: 'in', iface: next(), ...n };
    case '-o': return { kind: 'out', iface: next(), ...n };
    case '-p': return { kind: 'protocol', protocol: next() as L4Protocol };
    default: return undefined;
  }
}

interface Parsed { match?: Match; note?: string; end: number }

function extensionMatch(module: string, words: string[], start: number, text: string): Parsed {
  // `--match-set NAME DIR` is the one option with two values.
  if (module === 'set' && words[start + 1] === '--match-set') {
    const dir = words[start + 3];
    if (dir !== 'src' && dir !== 'dst') throw new Error(`unexpected set direction "${dir}" in: ${text}`);
    return { match: { kind: 'set', name: words[start + 2] ?? '', dir }, end: start + 3 };
  }
  let i = start + 1;
  const opts: Record<string, string> = {};
  let negate = false;
  while (i < words.length && words[i] !== '-m' && words[i] !== '-j' && words[i] !== '-g') {
    const word = words[i] ?? '';
    if (word === '!') { negate = true; i++; continue; }
    opts[word] = words[i + 1] ?? '';
    i += 2;
  }
  return { ...buildMatch(module, opts, negate, text), end: i - 1 };
}

function buildMatch(module: string, o: Record<string, string>, negate: boolean, text: string): Omit<Parsed, 'end'> {
  const n = negate ? { negate: true } : {};
  switch (module) {
    case 'tcp': case 'udp': case 'sctp': {
      const [from = '0', to = from] = (o['--dport'] ?? '').split(':');
      return { match: { kind: 'dport', protocol: module, from: Number(from), to: Number(to) } };
    }
    case 'addrtype': {
      const dir = o['--src-type'] !== undefined ? 'src' : 'dst';
      return { match: { kind: 'addrtype', dir, type: 'LOCAL', ...n } };
    }
    case 'conntrack': return { match: conntrackMatch(o) };
    case 'mark': {
      const [value = '0', mask = '0xffffffff'] = (o['--mark'] ?? '').split('/');
      return { match: { kind: 'mark', value: Number(value), mask: Number(mask) } };
    }
    case 'icmp': return { match: { kind: 'icmpType', protocol: 'icmp', type: Number(o['--icmp-type']) } };
    case 'icmp6': return { match: { kind: 'icmpType', protocol: 'ipv6-icmp', type: Number(o['--icmpv6-type']) } };
    case 'limit': return { match: { kind: 'limit', perMinute: Number((o['--limit'] ?? '').split('/')[0]) } };
    case 'comment': {
      const words = (o['--comment'] ?? '').split(' ');
      const note = words.slice(1).join(' ');
      return note ? { note } : {};
    }
    default: throw new Error(`unknown match module "${module}" in: ${text}`);
  }
}

function conntrackMatch(o: Record<string, string>): Match {
  const states = o['--ctstate'] ? (o['--ctstate'].split(',') as CtState[]) : [];
  if (o['--ctorigdst'] === undefined && o['--ctorigdstport'] === undefined) return { kind: 'ctstate', states };
  const m: { kind: 'ctorig'; states: CtState[]; dst?: string; dstPort?: number } = { kind: 'ctorig', states };
  if (o['--ctorigdst'] !== undefined) m.dst = o['--ctorigdst'];
  if (o['--ctorigdstport'] !== undefined) m.dstPort = Number(o['--ctorigdstport']);
  return m;
}

function parseTarget(flag: string, words: string[], text: string): Target {
  const [name = '', option, value = ''] = words;
  if (flag === '-g') return { kind: 'goto', chain: name };
  switch (name) {
    case 'ACCEPT': case 'DROP': case 'RETURN': case 'MASQUERADE': return { kind: name };
    case 'REJECT': return { kind: 'REJECT', with: value as Extract<Target, { kind: 'REJECT' }>['with'] };
    case 'DNAT': return { kind: 'DNAT', to: value };
    case 'SNAT': return { kind: 'SNAT', to: value };
    case 'LOG': return { kind: 'LOG', prefix: value };
    case 'MARK': {
      const [v = '0', mask = '0'] = value.split('/');
      return { kind: 'MARK', value: Number(v), mask: Number(mask) };
    }
    default:
      if (option !== undefined) throw new Error(`unknown target "${name}" in: ${text}`);
      return { kind: 'jump', chain: name };
  }
}
