/**
 * Who decided, read from a rule's note and put in words. compile writes the deciding
 * policy rule's place on every rule that carries its verdict (`rules[2]:web`, `label[0]`,
 * `egress[1]`, `connections[0]:app-db`, `host.toContainers[3]`, `host.input[0]`), and
 * the name of a default or of dockward's own decision (`default`, `outbound`, `input`,
 * `icc`, `icc-off`, `isolation`, `host`) on the rest.
 */
import type { AccessLine } from '../compile/access.js';
import type { Bridge } from '../compile/model.js';
import { globMatch } from '../policy/selector.js';
import type { NetworkOverride } from '../policy/types.js';
import type { Rule } from '../ruleset/types.js';
import type { Decider, RuleSection } from './model.js';

const PLACE = /^(rules|label|egress|connections|host\.toContainers|host\.input)\[(\d+)\](?::(.+))?$/;

/** What explain needs to name a network's ICC setting: its bridges and the policy's overrides. */
export interface NetworkNames {
  readonly bridges: readonly Bridge[];
  readonly overrides: readonly NetworkOverride[];
}

/** A policy rule's place ("rules[2]", "label[0]:x") as a decider; undefined when it is none. */
export function placeDecider(place: string): Extract<Decider, { kind: 'rule' }> | undefined {
  const m = PLACE.exec(place);
  if (!m?.[1]) return undefined;
  const section = m[1] as RuleSection;
  const index = Number(m[2]);
  const at = `${section}[${index}]`;
  return m[3] ? { kind: 'rule', section, index, place: at, name: m[3] } : { kind: 'rule', section, index, place: at };
}

const DEFAULTS: Readonly<Record<string, Decider>> = {
  default: { kind: 'default', setting: 'defaults.published' },
  outbound: { kind: 'default', setting: 'defaults.outbound' },
  input: { kind: 'default', setting: 'host.default' },
  host: { kind: 'host' },
  isolation: { kind: 'isolation' },
};

/** The ICC decision of the bridge a rule's `-o` names: Docker's enable_icc, or the policy's `networks:` entry. */
function iccDecider(rule: Rule, networks: NetworkNames): Decider | undefined {
  const out = rule.matches.find((m) => m.kind === 'out');
  const bridge = out?.kind === 'out' ? networks.bridges.find((b) => b.iface === out.iface) : undefined;
  if (!bridge) return undefined;
  const override = networks.overrides.find((o) => globMatch(o.pattern, bridge.name));
  const by = override ? `networks.${override.pattern}` : 'enable_icc';
  return { kind: 'icc', network: bridge.name, icc: rule.target.kind === 'ACCEPT', by };
}

/** The decider a rule names; undefined for rules that carry no decision (hooks, dispatch, replies…). */
export function ruleDecider(rule: Rule | undefined, networks: NetworkNames): Decider | undefined {
  const note = rule?.note;
  if (!rule || note === undefined) return undefined;
  if (note === 'icc' || note === 'icc-off') return iccDecider(rule, networks);
  return DEFAULTS[note] ?? placeDecider(note);
}

export function lineDecider(line: AccessLine): Decider {
  if (!line.rule) return DEFAULTS.default!;
  const r = line.rule;
  const place = r.place ?? `rules[${r.index}]`;
  return placeDecider(r.name ? `${place}:${r.name}` : place) ?? { kind: 'dockward', note: place };
}

/** dockward's own rules a user meets in answers, in words. */
const DOCKWARD_RULES: Readonly<Record<string, string>> = {
  loopback: 'dockward\'s loopback rule (raw: nothing from outside the host reaches 127.0.0.0/8)',
};

export function deciderText(d: Decider): string {
  switch (d.kind) {
    case 'rule': {
      const place = d.section === 'label' ? `${d.place} (the container's dockward.rules label)` : d.place;
      return d.name ? `${place} ${d.name}` : place;
    }
    case 'default': return d.setting;
    case 'host': return 'the host exemption (no host.toContainers rule decides: the host reaches containers, as with Docker)';
    case 'icc': return `ICC ${d.icc ? 'on' : 'off'} for network ${d.network} (${d.by === 'enable_icc' ? "Docker's enable_icc option" : `policy ${d.by}`})`;
    case 'isolation': return 'isolation between networks';
    case 'dockward': return DOCKWARD_RULES[d.note] ?? `dockward's "${d.note}" rule`;
  }
}

export function sameDecider(a: Decider, b: Decider): boolean {
  return deciderText(a) === deciderText(b);
}
