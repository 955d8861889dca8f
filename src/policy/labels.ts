/**
 * The `dockward.rules` container label: `;`-separated clauses `ACTION PORTS [from SOURCES]`,
 * e.g. `allow 443/tcp from zone:office,198.51.100.0/24; deny 8080`. The text comes from
 * whoever started the container (or built its image): it is parsed with the same leaf
 * parsers as the policy file, may only name the file's zones, and is bounded in size so a
 * label cannot blow up the ruleset.
 */
import { parseCidr } from './addresses.js';
import { type Checked, fail, ok, quote } from './issues.js';
import { parsePortSpec } from './ports.js';
import type { Action, PortRange, SourceMatch } from './types.js';

export const RULES_LABEL = 'dockward.rules';

const MAX_LENGTH = 2048;
const MAX_CLAUSES = 32;
const ACTIONS: readonly string[] = ['allow', 'deny', 'reject'];

export interface LabelClause {
  readonly action: Action;
  readonly ports: readonly PortRange[];
  readonly from: readonly SourceMatch[];
}

/** The file's zones, expanded: what `zone:NAME` in a label may refer to. */
export type ZoneMatches = Readonly<Record<string, readonly SourceMatch[]>>;

export function parseRulesLabel(text: string, zones: ZoneMatches): Checked<LabelClause[]> {
  if (text.length > MAX_LENGTH) return fail(`is longer than ${MAX_LENGTH} characters`);
  const parts = text.split(';').map((c) => c.trim()).filter((c) => c !== '');
  if (parts.length === 0) return fail('holds no clause (expected ACTION PORTS [from SOURCES])');
  if (parts.length > MAX_CLAUSES) return fail(`holds more than ${MAX_CLAUSES} clauses`);
  const clauses: LabelClause[] = [];
  for (const [i, part] of parts.entries()) {
    const clause = parseClause(part, zones);
    if (!clause.ok) return fail(`clause ${i + 1} (${quote(part)}): ${clause.error}`);
    clauses.push(clause.value);
  }
  return ok(clauses);
}

function parseClause(text: string, zones: ZoneMatches): Checked<LabelClause> {
  const [action = '', portsText = '', keyword, ...rest] = text.split(/\s+/);
  if (!ACTIONS.includes(action)) return fail(`${quote(action)} is not allow, deny or reject`);
  if (portsText === '') return fail('needs ports after the action');
  if (keyword !== undefined && keyword !== 'from') return fail(`expected "from" after the ports, got ${quote(keyword)}`);
  if (keyword === 'from' && rest.length === 0) return fail('needs sources after "from"');
  const ports = all(portsText.split(','), (p) => parsePortSpec(p));
  if (!ports.ok) return ports;
  const from = keyword === undefined ? ok([{ label: 'any' }]) : all(rest.join('').split(','), (s) => source(s, zones));
  if (!from.ok) return from;
  return ok({ action: action as Action, ports: ports.value, from: from.value.flat() });
}

function source(text: string, zones: ZoneMatches): Checked<SourceMatch[]> {
  if (text === 'any') return ok([{ label: 'any' }]);
  if (text.startsWith('zone:')) {
    const name = text.slice('zone:'.length);
    const zone = Object.hasOwn(zones, name) ? zones[name] : undefined;
    return zone ? ok([...zone]) : fail(`unknown zone ${quote(name)}`);
  }
  const cidr = parseCidr(text);
  return cidr.ok ? ok([{ cidr: cidr.value, label: text }]) : fail(`${quote(text)} is not "any", zone:NAME, an address or a CIDR`);
}

function all<T, R>(items: readonly T[], parse: (item: T) => Checked<R>): Checked<R[]> {
  const out: R[] = [];
  for (const item of items) {
    const r = parse(item);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return ok(out);
}
