/**
 * `log: true` on a rule or a default: a LOG line, rate-limited, right before each line
 * that carries the rule's verdict, so `journalctl -k` shows who was refused (or let in).
 *
 * Applied as a last pass over the compiled ruleset: every verdict line is tagged with its
 * policy rule's place in its note (rules[2]:web, egress[0], default, …), so the rule
 * families need no knowledge of logging. A refusal is logged in whichever table refuses it
 * first (the packet dies there, so it is logged once); an acceptance only in filter, the
 * last table on the way. Marks and translations decide nothing and are not logged.
 */
import type { Policy } from '../policy/types.js';
import type { Chain, Match, Rule, Ruleset, TableName, Tables } from '../ruleset/types.js';
import { isSourceJump } from './names.js';
import { ctNew } from './rules.js';

/** At most this many log lines per minute per rule (burst 5, iptables' default). */
export const LOG_PER_MINUTE = 10;
/** iptables' limit on a LOG prefix is 29 characters. */
const MAX_PREFIX = 29;

const PLACE_OF_NOTE: Readonly<Record<string, string>> = { default: 'default:published', outbound: 'default:outbound', input: 'default:input' };

function place(section: string, r: { index: number; name?: string }): string {
  return r.name ? `${section}[${r.index}]:${r.name}` : `${section}[${r.index}]`;
}

/** The notes of the verdict lines of every rule and default that asks to be logged. */
export function loggedNotes(policy: Policy): Set<string> {
  const notes = new Set<string>();
  const add = (section: string, rules: readonly { index: number; name?: string; log?: true }[] | undefined) => {
    for (const r of rules ?? []) if (r.log) notes.add(place(section, r));
  };
  add('rules', policy.rules);
  add('connections', policy.connections);
  add('egress', policy.egress);
  add('host.toContainers', policy.host?.toContainers);
  add('host.input', policy.host?.manage?.input);
  if (policy.host?.manage?.log) notes.add('input');
  if (policy.defaults.log?.published) notes.add('default');
  if (policy.defaults.log?.outbound) notes.add('outbound');
  return notes;
}

const WORD: Readonly<Record<string, string>> = { ACCEPT: 'ALLOW', DROP: 'DENY', REJECT: 'REJECT' };

/** "DW DENY rules[2]:web ": the verdict and the rule's place, cut to iptables' limit; only token characters. */
export function logPrefix(verdict: string, note: string): string {
  const text = `DW ${WORD[verdict] ?? verdict} ${PLACE_OF_NOTE[note] ?? note}`.replace(/[^A-Za-z0-9 ._:[\]-]/g, '_');
  return `${text.slice(0, MAX_PREFIX - 1)} `;
}

/** A rule's verdict as logged: a jump into a source chain is that source's acceptance (compile/connections.ts). */
function verdictOf(rule: Rule): string {
  return isSourceJump(rule.target) ? 'ACCEPT' : rule.target.kind;
}

function logs(rule: Rule, table: TableName, notes: ReadonlySet<string>): boolean {
  if (rule.note === undefined || !notes.has(rule.note)) return false;
  const kind = verdictOf(rule);
  return kind === 'DROP' || kind === 'REJECT' || (kind === 'ACCEPT' && table === 'filter');
}

function logLine(rule: Rule, table: TableName): Rule {
  // Only the packet that opens a connection is logged; raw has no conntrack to ask.
  const isNew = rule.matches.some((m) => m.kind === 'ctstate' && m.states.includes('NEW'));
  const when: Match[] = table === 'raw' || isNew ? [] : [ctNew];
  const matches: Match[] = [...rule.matches, ...when, { kind: 'limit', perMinute: LOG_PER_MINUTE }];
  return { matches, target: { kind: 'LOG', prefix: logPrefix(verdictOf(rule), rule.note ?? '') }, note: rule.note ?? '' };
}

function withLines(chain: Chain, table: TableName, notes: ReadonlySet<string>): Chain {
  if (!chain.rules.some((r) => logs(r, table, notes))) return chain;
  // Each LOG line must come just before its verdict: a set of verdicts becomes an ordered chain.
  return { name: chain.name, rules: chain.rules.flatMap((r) => (logs(r, table, notes) ? [logLine(r, table), r] : [r])) };
}

export function withLogging(ruleset: Ruleset, notes: ReadonlySet<string>): Ruleset {
  if (notes.size === 0) return ruleset;
  const tables = Object.fromEntries(Object.entries(ruleset.tables).map(([name, t]) =>
    [name, { ...t, chains: t.chains.map((c) => withLines(c, name as TableName, notes)) }])) as unknown as Tables;
  return { ...ruleset, tables };
}
